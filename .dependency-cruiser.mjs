// The architecture rules (docs/architecture.md, "Dependency rules"), checked
// by dependency-cruiser in the test suite (test/unit/architecture.test.ts)
// and by `npm run arch`. Type-only imports count: a type declared in the
// wrong file is a dependency in the wrong direction all the same.

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-not-to-functions-or-infra',
      severity: 'error',
      comment:
        'lib/ is runtime-neutral: the Lambda handlers and the CDK app depend on it, never the reverse.',
      from: { path: '^lib/' },
      to: { path: '^(functions|infra)/' },
    },
    {
      name: 'lib-no-lambda-or-cdk',
      severity: 'error',
      comment:
        'No Lambda, middy or CDK import anywhere in lib/ (they belong to functions/ and infra/).',
      from: { path: '^lib/' },
      to: {
        // Resolved into node_modules, or named as written when it does not resolve.
        path: [
          '^(aws-lambda|@types/aws-lambda|@middy/[^/]+|aws-cdk-lib|aws-cdk|constructs|cdk-nag)(/|$)',
          '(^|/)node_modules/(aws-lambda|@types/aws-lambda|@middy/[^/]+|aws-cdk-lib|aws-cdk|constructs|cdk-nag)(/|$)',
        ],
      },
    },
    {
      name: 'ports-not-to-adapters',
      severity: 'error',
      comment: 'A port owns its vocabulary and imports only the model, the errors and other ports.',
      from: { path: '^lib/ports/' },
      to: { path: '^lib/', pathNot: '^lib/(ports/|model/|errors\\.ts$)' },
    },
    {
      name: 'aws-adapters-not-to-services',
      severity: 'error',
      comment:
        'lib/aws holds adapters only: it never imports the reconcile loop, the API, the worker, the sweep or the GitHub services.',
      from: { path: '^lib/aws/' },
      to: { path: '^lib/(reconcile|api|worker|sweep|github)(\\.ts$|/)' },
    },
    {
      name: 'model-imports-only-itself-and-errors',
      severity: 'error',
      comment:
        'The model is the bottom layer: it imports itself and lib/errors.ts, nothing else of lib/.',
      from: { path: '^lib/model/' },
      to: { path: '^lib/', pathNot: '^lib/(model/|errors\\.ts$)' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'Every relative import resolves to a file.',
      from: {},
      to: { couldNotResolve: true, path: '^\\.\\.?/' },
    },
  ],
  // One place per name: the stack sets the variables the wiring reads by the
  // wiring's own names, and the webhook's idempotency records use the table's
  // attribute names, not copies spelled again.
  required: [
    {
      name: 'stack-imports-env-names',
      severity: 'error',
      comment: 'infra/stack.ts takes the environment variable names from functions/wiring/env.ts.',
      module: { path: '^infra/stack\\.ts$' },
      to: { path: '^functions/wiring/env\\.ts$' },
    },
    {
      name: 'webhook-imports-table-schema',
      severity: 'error',
      comment:
        "functions/webhook.ts takes the idempotency records' attribute names from lib/aws/dynamo/schema.ts.",
      module: { path: '^functions/webhook\\.ts$' },
      to: { path: '^lib/aws/dynamo/schema\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules is not crawled (doNotFollow), but imports of packages stay visible to the rules.
    exclude: { path: '(^|/)(cdk\\.out|\\.driftless)/' },
    // TypeScript 7 has no compiler API for dependency-cruiser to use; swc
    // parses the TypeScript sources as written, type-only imports included.
    parser: 'swc',
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      extensions: ['.ts', '.mjs', '.js', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'types', 'default'],
    },
    moduleSystems: ['es6'],
  },
};
