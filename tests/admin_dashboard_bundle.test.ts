/**
 * The dashboard's served script is the bundle of its TypeScript sources: the committed
 * src/admin/dashboard_js.ts equals what `npm run build:dashboard` makes from them now.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../scripts/build.ts";
import { bundleDashboard, DASHBOARD_MODULE, dashboardModule } from "../scripts/build_dashboard.ts";
import { DASHBOARD_JS } from "../src/admin/dashboard_js.ts";

test("dashboard bundle: the served script is the current bundle of src/admin/dashboard/", async () => {
  const js = await bundleDashboard();
  assert.match(js, /^(?:"use strict";)?\(\(\)=>\{[\s\S]*\}\)\(\);\n?$/, "one IIFE: no module loader, no globals");
  assert.match(js, /snapshot/);
  assert.equal(DASHBOARD_JS, js, `${DASHBOARD_MODULE} is stale: run npm run build:dashboard`);
  assert.equal(readFileSync(join(ROOT, DASHBOARD_MODULE), "utf8"), dashboardModule(js));
  assert.match(DASHBOARD_JS, /^[\t\n -~]*$/, "ASCII only, so no encoding can garble it");
});
