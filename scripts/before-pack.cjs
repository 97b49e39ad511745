// electron-builder's beforePack hook: an installer ships all seven runner artifacts, verified,
// or is not built at all (`npm run dist` builds them first: node scripts/build.mjs --runner=all).
// CommonJS because electron-builder loads hooks with require(); the check itself is ESM.
exports.default = async function beforePack() {
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const { checkRunnerArtifacts } = await import('./runner-artifacts.mjs');
  const problem = checkRunnerArtifacts(fileURLToPath(new URL('../resources/runner', pathToFileURL(__filename))));
  if (problem) throw new Error(`the installer must ship every runner artifact: ${problem}`);
};
