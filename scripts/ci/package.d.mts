// Types of scripts/ci/package.mjs, for its test.

/** What signing does on a platform given the environment. */
export function signingPlan(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): { env: NodeJS.ProcessEnv; flags: string[]; lines: string[] };
