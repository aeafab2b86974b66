/** The public API of the pure policy core. Nothing here does I/O. */
export * from './types.js';
export { TargetError, isTargetError, type TargetErrorReason } from './target-error.js';
export { normaliseHost, type NormalisedHost } from './host.js';
export { parseAbsoluteTarget, parseConnectTarget, normalisePath } from './target.js';
export { parseDomainLine, parseUrlLine, parseEntry, type ParsedEntry } from './entries.js';
export {
  CategoryListsBuilder,
  compileLists,
  compileEntryList,
  profileEntryLists,
  type CompileListsInput,
  type EntryList,
  type LineOutcome,
  type ProfileEntryLists,
} from './lists.js';
export { openWindows, localTime } from './time.js';
export { embeddedTargets, urlReadings, type Embedded } from './loophole.js';
export { compileEndpoints, type EndpointSpec, type EndpointTable, type EndpointKind } from './endpoints.js';
export { pathReadings } from './path-readings.js';
export { decide, decideSafely } from './decide.js';
