// Types for @michaelhomer/jqjs (it ships none): what lib/model/jq.ts uses.
declare module '@michaelhomer/jqjs' {
  /** A compiled jq program: every output for one input, lazily. */
  type Filter = (input: unknown) => Iterable<unknown>;
  const jq: { compile(program: string): Filter };
  export default jq;
}
