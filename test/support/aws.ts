import { testenv } from './env.js';

/** Client configuration pointing an AWS SDK v3 client at the moto server. */
export function awsClientConfig() {
  const { aws } = testenv();
  return {
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    maxAttempts: 1,
  };
}
