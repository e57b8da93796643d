// Keeps the Temporal SDK's chatter out of test output (errors only), and keeps every worker log entry
// (activities' and workflows' included) in memory so tests can search it for secrets: `workerLog()`.
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';

const entries: LogEntry[] = [];
(globalThis as { __meridianWorkerLog?: LogEntry[] }).__meridianWorkerLog = entries;

Runtime.install({
  logger: new DefaultLogger('INFO', (entry) => {
    entries.push(entry);
    if (entry.level !== 'ERROR') return;
    const meta = (entry.meta ?? {}) as { workflowId?: string; activityType?: string; error?: { message?: string } };
    console.error(`[${entry.level}] ${entry.message}`, [meta.workflowId, meta.activityType, meta.error?.message].filter(Boolean).join(' · '));
  }),
});
