/**
 * The reports box's public API. The CLI loads it lazily (`await import`) inside the report, case and audit
 * actions, so other commands do not pay for it at start-up.
 */
export {
  buildAccessLog,
  buildAroundReport,
  buildCaseDoc,
  buildDomainReport,
  buildFlaggedReport,
  buildPilotReport,
  buildUncategorisedReport,
  buildUserReport,
  buildWeeklyReport,
  findEvent,
  type BuiltReport,
  type Puller,
} from './builders.js';
export { accessPolicy, authorise, currentOsUser, osUserRefusal } from './access.js';
export { purposeMissing, resolveBy } from './people.js';
export {
  FORMATS,
  Output,
  auditPathOf,
  caseSubjectsOf,
  openAdmin,
  openSource,
  runReport,
  warnIfByUnchecked,
  writeReport,
  type ReportFormat,
} from './run.js';
export { renderText } from './render-text.js';
export { renderHtml } from './render-html.js';
export { openReadOnly } from './source.js';
export { formatLocal, parsePeriod, parseWhen } from './time.js';
export { listAccess } from '../audit/report-access.js';
export {
  addCaseNote,
  checkCaseRef,
  closeCase,
  listCases,
  openCase,
  reopenCase,
  requireCase,
} from '../audit/cases.js';
export { addHolds, listHolds, releaseHold } from '../audit/holds.js';
export { listPurges } from '../audit/purge.js';
export { verifyChain } from '../audit/chain.js';
export { caseSubjects, rowCovered, subjectsFrom, subjectsLabel } from '../audit/case-subjects.js';
export {
  subjectRefusal,
  unknownSubjects,
  unknownSubjectsRefusal,
  userRefusal,
  withSubjectLookup,
} from './subjects.js';
export { purgeAudit } from '../audit/purge.js';
export { acknowledgeAlert, listAlerts, showAlert, type AlertReader } from './alert-commands.js';
export { eventSubject, identityOfEvent, otherSiteRowRefusal } from './event-identity.js';
export { withinSite } from './site-scope.js';
