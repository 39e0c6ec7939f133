// The maintainer's charts as chart.js configurations, built from the core's numbers
// (`views::charts`): pure functions, so what each chart shows is tested without a canvas.
import type { ChartConfiguration } from 'chart.js';
import type { Charts } from '../bindings/Charts';
import type { ReasonCount } from '../bindings/ReasonCount';
import { seriesColor } from './register';

/** Sorted distinct values. */
function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Events per day, stacked by kind. */
export function eventsPerDay(c: Charts): ChartConfiguration<'bar'> {
  const days = distinct(c.events_per_day.map((p) => p.day));
  const kinds = distinct(c.events_per_day.map((p) => p.kind));
  const at = new Map(c.events_per_day.map((p) => [`${p.day}\u0000${p.kind}`, p.count]));
  return {
    type: 'bar',
    data: {
      labels: days,
      datasets: kinds.map((kind) => ({
        label: kind,
        data: days.map((d) => at.get(`${d}\u0000${kind}`) ?? 0),
        backgroundColor: seriesColor(kind),
        stack: 'events',
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  };
}

/** One line per series over the days listed, each value held until the next day listed. */
function stepLines<T extends { day: string; count: number }>(rows: T[], series: (r: T) => string): ChartConfiguration<'line'> {
  const days = distinct(rows.map((r) => r.day));
  const names = distinct(rows.map(series));
  const at = new Map(rows.map((r) => [`${r.day}\u0000${series(r)}`, r.count]));
  return {
    type: 'line',
    data: {
      labels: days,
      datasets: names.map((name) => ({
        label: name,
        data: days.map((d) => at.get(`${d}\u0000${name}`) ?? 0),
        borderColor: seriesColor(name),
        backgroundColor: seriesColor(name),
        stepped: true,
      })),
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  };
}

/** Proposals in each state at the end of each day a state changed. */
export function proposalsByState(c: Charts): ChartConfiguration<'line'> {
  return stepLines(c.proposals_by_state, (r) => r.state);
}

/** Proposals judged per day, stacked by risk. */
export function proposalsByRisk(c: Charts): ChartConfiguration<'bar'> {
  const order = ['low', 'medium', 'high', 'critical'];
  const days = distinct(c.proposals_by_risk.map((r) => r.day));
  const at = new Map(c.proposals_by_risk.map((r) => [`${r.day}\u0000${r.risk}`, r.count]));
  const risks = order.filter((risk) => c.proposals_by_risk.some((r) => r.risk === risk));
  return {
    type: 'bar',
    data: {
      labels: days,
      datasets: risks.map((risk) => ({
        label: risk,
        data: days.map((d) => at.get(`${d}\u0000${risk}`) ?? 0),
        backgroundColor: seriesColor(risk),
        stack: 'risk',
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  };
}

/** Hours from validated to approved and to promoted: median and 90th percentile per week. */
export function leadTimes(c: Charts): ChartConfiguration<'line'> {
  const weeks = distinct(c.lead_times.map((l) => l.week));
  const hours = (s: number) => Math.round((s / 3600) * 10) / 10;
  const series = (['approved', 'promoted'] as const).flatMap((m) =>
    (['median', 'p90'] as const).map((stat) => {
      const at = new Map(
        c.lead_times.filter((l) => l.milestone === m).map((l) => [l.week, hours(stat === 'median' ? l.median_seconds : l.p90_seconds)]),
      );
      const label = `to ${m}, ${stat === 'median' ? 'median' : '90th percentile'}`;
      return {
        label,
        data: weeks.map((w) => at.get(w) ?? null),
        borderColor: seriesColor(`${m}-${stat}`),
        backgroundColor: seriesColor(`${m}-${stat}`),
        borderDash: stat === 'p90' ? [6, 4] : [],
        spanGaps: true,
      };
    }),
  );
  return {
    type: 'line',
    data: { labels: weeks, datasets: series.filter((s) => s.data.some((v) => v !== null)) },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'hours' } } } },
  };
}

/** Reason codes, most frequent first, as horizontal bars. */
export function reasons(rows: ReasonCount[], label: string, color: string): ChartConfiguration<'bar'> {
  return {
    type: 'bar',
    data: {
      labels: rows.map((r) => r.code),
      datasets: [{ label, data: rows.map((r) => r.count), backgroundColor: color }],
    },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  };
}
