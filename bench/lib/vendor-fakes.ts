/** Child process for bench/vendors.ts: runs the Datadog and CloudWatch fakes (not storing what they receive) and prints their URLs as one JSON line. */
import { startFakeDatadog } from '../../test/fakes/datadog.ts';
import { startFakeCloudWatch } from '../../test/fakes/cloudwatch.ts';

const dd = await startFakeDatadog({ store: false });
const cw = await startFakeCloudWatch({ store: false });
process.stdout.write(JSON.stringify({ datadog: dd.url, cloudwatch: cw.url }) + '\n');
process.on('SIGTERM', () => {
  if (dd.violations.length + cw.violations.length > 0) process.stderr.write(`fake violations: ${[...dd.violations, ...cw.violations].slice(0, 5).join('; ')}\n`);
  void Promise.all([dd.close(), cw.close()]).then(() => process.exit(0));
});
