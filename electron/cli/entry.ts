/**
 * The process entry of `cronium`: runs the CLI and exits with its code. `--version` alone is
 * answered before the CLI loads (commander and all), as fast as Node starts.
 */
import { appVersion } from '../core/version';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${appVersion()}\n`);
} else {
  void import('./main')
    .then(({ runCli }) => runCli(argv))
    .then((code) => {
      process.exitCode = code;
    });
}
