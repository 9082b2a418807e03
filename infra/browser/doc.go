// Package browser holds the end-to-end tests of the hosted customer portal: they start
// their own local stack (package localstack), drive Debian's headless Chromium through
// the Chrome DevTools Protocol (github.com/chromedp/chromedp) the way a person uses the
// portal — once with JavaScript on and once with it off — check every page with the
// axe-core accessibility engine, save screenshots of the main pages, and attack the portal
// over plain HTTP (forged, expired, replayed and other-tenant tokens, missing CSRF tokens,
// login enumeration and rate limits).
//
// The package has no code outside its tests. It needs:
//   - Chromium at /usr/bin/chromium (Debian's package "chromium"), or the path in the
//     CHROMIUM environment variable. Without it the browser tests are skipped, except in
//     CI (CI set), where they fail; the HTTP security tests always run.
//   - axe-core, pinned in package.json here: `npm ci` in this directory (make test and
//     .ci/run do it).
//
// Screenshots go to $ARTIFACTS_DIR, or .artifacts/screenshots at the module root.
package browser
