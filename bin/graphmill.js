#!/usr/bin/env node
'use strict';
// The compiled CLI (npm run build). Kept as a tiny shim so the bin works from a checkout and a package.
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
