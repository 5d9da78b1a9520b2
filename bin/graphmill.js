#!/usr/bin/env node
'use strict';
// The compiled CLI (npm run build). Kept as a tiny shim so the bin works from a checkout and a package.
// The compile cache (Node >= 22.1; in the OS temp directory) saves most of the module compilation on every
// later start: the CLI is a short-lived process, so its start is a visible share of a run.
require('node:module').enableCompileCache?.();
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
