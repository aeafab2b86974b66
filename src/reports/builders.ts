/**
 * The investigation reports: each builds its data (JSON), its document (text/HTML) and, where it has one, a
 * row list for CSV/JSON export. One module per report; all SQL lives in source.ts or the builders, with
 * bound parameters only.
 */
export { lastFullVerify, tamperLine, type Puller, type BuiltReport } from './report-parts.js';
export { buildUserReport } from './build-user.js';
export { buildDomainReport } from './build-domain.js';
export { findEvent, buildAroundReport } from './build-around.js';
export { buildFlaggedReport, buildSelfReports, buildWeeklyReport } from './build-reviews.js';
export { buildPilotReport } from './build-pilot.js';
export { buildUncategorisedReport } from './build-uncategorised.js';
export { buildAccessLog, buildCaseDoc } from './build-records.js';
export { BUCKETS } from './aggregate.js';
export { parseCategories } from './source.js';
