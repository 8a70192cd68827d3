// One place to observe every AWS call the adapters make. Each SDK client the
// wiring or an adapter creates goes through `withAwsCallHooks`, and the one
// request signed by hand (KMS Decrypt, lib/aws/kms.ts) reports itself with
// `runAwsCallHooks`. The list is empty in production (the middleware loops
// over nothing); the tests record every call with it and evaluate each
// function's IAM policy against what it really did (test/support/iam.ts).

export interface AwsCall {
  /** The IAM service prefix: dynamodb, sqs, secretsmanager, sts, eks, kms. */
  service: string;
  /** The API operation, as IAM names it before batch mapping: UpdateItem, SendMessageBatch… */
  operation: string;
  /** The request's parameters, as sent (read only: a hook must not change a call). */
  input: Readonly<Record<string, unknown>>;
}

export type AwsCallHook = (call: AwsCall) => void;

/** Called before every AWS call, in order. Empty unless a test adds a recorder. */
export const awsCallHooks: AwsCallHook[] = [];

type Handler = (args: { input: object }) => Promise<unknown>;
interface HandlerContext {
  clientName?: string;
  commandName?: string;
}
/** What this module needs of an SDK v3 client: its middleware stack. */
interface SdkClient {
  middlewareStack: {
    add(
      middleware: (next: Handler, context: HandlerContext) => Handler,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

export function runAwsCallHooks(call: AwsCall): void {
  for (const hook of awsCallHooks) hook(call);
}

/** The client, with a middleware that hands each call to `awsCallHooks` before it is sent. */
export function withAwsCallHooks<C extends SdkClient>(client: C): C {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (awsCallHooks.length > 0) {
        runAwsCallHooks({
          // DynamoDBClient → dynamodb, SecretsManagerClient → secretsmanager, EKSClient → eks.
          service: (context.clientName ?? '').replace(/Client$/, '').toLowerCase(),
          operation: (context.commandName ?? '').replace(/Command$/, ''),
          input: args.input as Record<string, unknown>,
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'driftlessAwsCallHooks' },
  );
  return client;
}
