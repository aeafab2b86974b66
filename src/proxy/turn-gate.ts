/**
 * Lets at most `perTurn` waiters through per turn of the event loop. Node checks every connection's
 * headersTimeout in one pass a second, so all the idle connections a burst opened (a lab of browsers'
 * preconnects, a pupil's flood) time out in the same turn: answering and recording 2,000 of them there
 * stalled every other client for seconds. Through the gate they are answered a few per turn instead, and
 * the requests of everyone else are served in between.
 */
export class TurnGate {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves on a later turn, in arrival order, at most `perTurn` per turn. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const resolve of this.waiting.splice(0, this.perTurn)) resolve();
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
