// Imported before oidc-provider (ES module imports evaluate in order): oidc-provider
// prints its development notices with console.info (stdout) and console.warn.  The test
// IdP's stdout must stay clean (server.mjs prints exactly one JSON line, `node --test`
// reads test files' stdout), so those lines are dropped unless LATCH_IDP_VERBOSE=1,
// in which case they go to stderr.  Nothing else written to the console is touched.
const verbose = process.env.LATCH_IDP_VERBOSE === '1';
const isProviderNotice = (args) => typeof args[0] === 'string'
  && /oidc-provider (NOTICE|WARNING)/.test(args[0]);

for (const level of ['info', 'warn']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    if (!isProviderNotice(args)) return original(...args);
    if (verbose) console.error(...args);
    return undefined;
  };
}
