// The timeline's window over keyed pages: a few pages of events around the reading position,
// newest first, fetched by seq (never by OFFSET), so reading at seq 3 costs what reading at
// the head costs. The scrollbar maps its position to a seq between the oldest and the newest
// event and the window is refetched there: no element is ever as tall as the history.
import type { AuditEvent } from '../bindings/AuditEvent';

/** Where a page starts: `before` a seq (older events), `after` a seq (newer), or the newest. */
export interface PageAt {
  before?: number;
  after?: number;
  /** The newest event at or before this time (RFC 3339). */
  time?: string;
  limit: number;
}

/** Reads pages of one (filtered) event set; every page is newest first. */
export interface PageSource {
  page(at: PageAt): Promise<AuditEvent[]>;
}

export const PAGE = 50;
/** Pages kept around the reading position; the rest is dropped. */
const KEEP = 4 * PAGE;

export class KeysetWindow {
  /** Loaded events, newest first, contiguous in the filtered set. */
  rows = $state<AuditEvent[]>([]);
  /** Index (fractional) of the first visible row in `rows`. */
  top = $state(0);
  /** Seq of the newest and the oldest event of the set (null while unknown or empty). */
  newest = $state<number | null>(null);
  oldest = $state<number | null>(null);
  /** Whether `rows` reaches the newest / the oldest end of the set. */
  atNewest = $state(false);
  atOldest = $state(false);
  loading = $state(false);

  #source: PageSource;
  #visible: number;
  #busy: Promise<void> | null = null;
  #generation = 0;

  constructor(source: PageSource, visible = 20) {
    this.#source = source;
    this.#visible = visible;
  }

  /** How many rows fit the viewport. */
  setVisible(n: number) {
    this.#visible = Math.max(1, Math.floor(n));
    this.#clamp();
  }

  get visible(): number {
    return this.#visible;
  }

  /** The events currently drawn (at most `visible` + 1). */
  get shown(): AuditEvent[] {
    const first = Math.max(0, Math.floor(this.top));
    return this.rows.slice(first, first + this.#visible + 1);
  }

  /** Seq at the top of the viewport. */
  get topSeq(): number | null {
    return this.rows[Math.max(0, Math.floor(this.top))]?.seq ?? null;
  }

  /** 0 at the newest event, 1 at the oldest: the scrollbar's position. */
  get fraction(): number {
    const seq = this.topSeq;
    if (seq === null || this.newest === null || this.oldest === null || this.newest === this.oldest) return 0;
    if (this.atOldest && Math.floor(this.top) >= this.rows.length - this.#visible) return 1;
    return Math.min(1, Math.max(0, (this.newest - seq) / (this.newest - this.oldest)));
  }

  /** Loads the newest page and the bounds of the set (a new source, e.g. other filters). */
  async reset(source?: PageSource): Promise<void> {
    if (source) this.#source = source;
    const src = this.#source;
    const gen = ++this.#generation;
    this.loading = true;
    try {
      const [first, last] = await Promise.all([src.page({ limit: PAGE }), src.page({ after: Number.MIN_SAFE_INTEGER, limit: 1 })]);
      // The bounds belong to the set, whatever jump happened meanwhile.
      if (src === this.#source) {
        this.newest = first[0]?.seq ?? null;
        this.oldest = last[last.length - 1]?.seq ?? null;
      }
      if (gen !== this.#generation) return;
      this.rows = first;
      this.top = 0;
      this.atNewest = true;
      this.atOldest = first.length < PAGE;
      await this.#fill(gen);
    } finally {
      if (gen === this.#generation) this.loading = false;
    }
  }

  /** Shows the newest event at the top. */
  jumpNewest(): Promise<void> {
    return this.#jump({ limit: PAGE }, 'top');
  }

  /** Shows the oldest event at the bottom. */
  jumpOldest(): Promise<void> {
    return this.#jump({ after: Number.MIN_SAFE_INTEGER, limit: PAGE }, 'bottom');
  }

  /** Shows `seq` (or the newest event older than it, when filtered out) at the top. */
  jumpToSeq(seq: number): Promise<void> {
    return this.#jump({ before: seq + 1, limit: PAGE }, 'top');
  }

  /** Shows the newest event at or before `time` (RFC 3339 or a date) at the top. */
  jumpToTime(time: string): Promise<void> {
    return this.#jump({ time, limit: PAGE }, 'top');
  }

  /** Moves the scrollbar to `fraction` (0 newest … 1 oldest). */
  jumpToFraction(fraction: number): Promise<void> {
    if (this.newest === null || this.oldest === null) return Promise.resolve();
    const f = Math.min(1, Math.max(0, fraction));
    if (f >= 1) return this.jumpOldest();
    return this.jumpToSeq(Math.round(this.newest - f * (this.newest - this.oldest)));
  }

  /** Scrolls by `delta` rows (positive: older), fetching the next page when close to an edge. */
  async scrollBy(delta: number): Promise<void> {
    this.top += delta;
    this.#clamp();
    await this.#fill(this.#generation);
  }

  async #jump(at: PageAt, align: 'top' | 'bottom'): Promise<void> {
    const gen = ++this.#generation;
    this.loading = true;
    try {
      const page = await this.#source.page(at);
      if (gen !== this.#generation) return;
      this.rows = page;
      this.atNewest = at.before === undefined && at.after === undefined && at.time === undefined;
      this.atOldest = at.after !== undefined || page.length < at.limit;
      if (at.before !== undefined && this.newest !== null && at.before > this.newest) this.atNewest = true;
      this.top = align === 'top' ? 0 : Math.max(0, page.length - this.#visible);
      await this.#fill(gen);
      if (align === 'bottom') this.top = Math.max(0, this.rows.length - this.#visible);
    } finally {
      if (gen === this.#generation) this.loading = false;
    }
  }

  /** Holds the position inside the history; past the loaded rows only while a fill runs. */
  #clamp() {
    if (this.atNewest || this.rows.length === 0) this.top = Math.max(0, this.top);
    if (this.atOldest) this.top = Math.min(Math.max(0, this.rows.length - this.#visible), this.top);
  }

  /** Keeps at least a page loaded on both sides of the viewport (one fill at a time). */
  async #fill(gen: number): Promise<void> {
    while (this.#busy) await this.#busy;
    if (gen !== this.#generation) return;
    const run = this.#fillOnce(gen);
    this.#busy = run;
    try {
      await run;
    } finally {
      if (this.#busy === run) this.#busy = null;
    }
  }

  async #fillOnce(gen: number): Promise<void> {
    // Bounded: a long scroll fetches the pages it crosses (trimmed as it goes), nothing more.
    for (let guard = 0; guard < 10_000 && gen === this.#generation; guard++) {
      const below = this.rows.length - (Math.floor(this.top) + this.#visible);
      if (!this.atOldest && below < PAGE) {
        const last = this.rows[this.rows.length - 1];
        const page = await this.#source.page({ before: last?.seq ?? Number.MAX_SAFE_INTEGER, limit: PAGE });
        if (gen !== this.#generation) return;
        this.rows = [...this.rows, ...page];
        if (page.length < PAGE) this.atOldest = true;
        this.#trim('start');
        continue;
      }
      if (!this.atNewest && Math.floor(this.top) < PAGE && this.rows.length > 0) {
        const page = await this.#source.page({ after: this.rows[0].seq, limit: PAGE });
        if (gen !== this.#generation) return;
        this.rows = [...page, ...this.rows];
        this.top += page.length;
        if (page.length < PAGE) this.atNewest = true;
        this.#trim('end');
        continue;
      }
      break;
    }
    this.#clamp();
  }

  /** Drops rows far from the viewport on one side so memory stays flat at any depth. */
  #trim(side: 'start' | 'end') {
    const excess = this.rows.length - KEEP;
    if (excess <= 0) return;
    if (side === 'start') {
      const drop = Math.min(excess, Math.max(0, Math.floor(this.top) - PAGE));
      if (drop > 0) {
        this.rows = this.rows.slice(drop);
        this.top -= drop;
        this.atNewest = false;
      }
    } else {
      const keepEnd = Math.floor(this.top) + this.#visible + PAGE;
      if (this.rows.length > keepEnd) {
        this.rows = this.rows.slice(0, Math.max(keepEnd, KEEP));
        this.atOldest = false;
      }
    }
  }
}
