const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * A spinner with the elapsed time, drawn in place on standard error while a command waits; it
 * draws nothing when standard error is not a terminal.
 */
export class Spinner {
  #timer: ReturnType<typeof setInterval> | undefined;
  #write: (text: string) => Promise<void>;
  #frame = 0;
  #started = 0;
  #label: string;

  /**
   * @param write Writes to standard error.
   * @param enabled Whether standard error is a terminal.
   * @param label What it waits for.
   */
  constructor(write: (text: string) => Promise<void>, enabled: boolean, label: string) {
    this.#write = write;
    this.#label = label;
    if (!enabled) return;
    this.#started = performance.now();
    this.#timer = setInterval(() => this.#draw(), 80);
    this.#draw();
  }

  #draw(): void {
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    const frame = FRAMES[this.#frame++ % FRAMES.length];
    void this.#write(`\r\x1b[2K${frame} ${this.#label} ${seconds}s`).catch(() => {});
  }

  /** Stops and erases it. */
  async stop(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#write("\r\x1b[2K").catch(() => {});
  }
}
