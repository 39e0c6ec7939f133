import { describe, expect, it } from 'vitest';
import { eventsPerDay, leadTimes, proposalsByRisk, proposalsByState, reasons } from './configs';
import { seriesColor } from './register';
import type { Charts } from '../bindings/Charts';

const charts: Charts = {
  events_per_day: [
    { day: '2026-11-20', kind: 'workflow.validate', count: 3 },
    { day: '2026-11-20', kind: 'policy.decision', count: 1 },
    { day: '2026-11-22', kind: 'policy.decision', count: 5 },
  ],
  proposals_by_state: [
    { day: '2026-11-20', state: 'proposed', count: 2 },
    { day: '2026-11-21', state: 'proposed', count: 1 },
    { day: '2026-11-21', state: 'validated', count: 1 },
  ],
  proposals_by_risk: [
    { day: '2026-11-20', risk: 'critical', count: 1 },
    { day: '2026-11-20', risk: 'low', count: 4 },
  ],
  lead_times: [
    { week: '2026-11-16', milestone: 'approved', proposals: 3, median_seconds: 5400, p90_seconds: 36000 },
    { week: '2026-11-23', milestone: 'approved', proposals: 1, median_seconds: 3600, p90_seconds: 3600 },
  ],
  denials_by_policy_reason: [
    { code: 'POLICY_PROTECTED_PATH', count: 7 },
    { code: 'POLICY_TOO_LARGE', count: 2 },
  ],
  failures_by_failure_reason: [],
};

describe('chart configurations', () => {
  it('stacks events per day by kind, zero where a kind had none', () => {
    const c = eventsPerDay(charts);
    expect(c.data.labels).toEqual(['2026-11-20', '2026-11-22']);
    expect(c.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['policy.decision', [1, 5]],
      ['workflow.validate', [3, 0]],
    ]);
    expect(c.data.datasets[0].backgroundColor).toBe(seriesColor('policy.decision'));
  });

  it('draws proposals by state as steps and by risk in risk order', () => {
    const s = proposalsByState(charts);
    expect(s.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['proposed', [2, 1]],
      ['validated', [0, 1]],
    ]);
    expect(s.data.datasets.every((d) => d.stepped === true)).toBe(true);
    expect(proposalsByRisk(charts).data.datasets.map((d) => d.label)).toEqual(['low', 'critical']);
  });

  it('gives lead times in hours, median and 90th percentile, leaving out series with no data', () => {
    const l = leadTimes(charts);
    expect(l.data.labels).toEqual(['2026-11-16', '2026-11-23']);
    expect(l.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['to approved, median', [1.5, 1]],
      ['to approved, 90th percentile', [10, 1]],
    ]);
  });

  it('lists reason codes most frequent first as horizontal bars', () => {
    const r = reasons(charts.denials_by_policy_reason, 'denials', '#c00');
    expect(r.data.labels).toEqual(['POLICY_PROTECTED_PATH', 'POLICY_TOO_LARGE']);
    expect(r.data.datasets[0].data).toEqual([7, 2]);
    expect(r.options?.indexAxis).toBe('y');
  });
});
