// A card's sparkline: calls/s and failures/s of the last minutes, drawn by uPlot. A chart exists
// only while its card is on (or near) the screen: 1,000 breakers do not mean 1,000 canvases.
import uPlot from 'uplot'

const WIDTH = 252
const HEIGHT = 40

const OPTIONS: uPlot.Options = {
  width: WIDTH,
  height: HEIGHT,
  pxAlign: false,
  cursor: { show: false },
  legend: { show: false },
  select: { show: false, left: 0, top: 0, width: 0, height: 0 },
  axes: [{ show: false }, { show: false }],
  scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
  series: [
    {},
    { stroke: '#4c8dff', fill: 'rgba(76, 141, 255, 0.15)', width: 1.5, points: { show: false } },
    { stroke: '#f85149', width: 1.5, points: { show: false } },
  ],
}

export class Sparkline {
  readonly #host: HTMLElement
  #plot: uPlot | undefined
  #drawn = -1

  constructor(host: HTMLElement) {
    this.#host = host
  }

  /** Draws `samples` (redrawn only when `version` moved since the last draw). */
  show(samples: uPlot.AlignedData, version: number): void {
    if (this.#plot === undefined) {
      this.#plot = new uPlot(OPTIONS, samples, this.#host)
    } else if (version !== this.#drawn) {
      this.#plot.setData(samples)
    }
    this.#drawn = version
  }

  /** Frees the canvas (the card left the screen). */
  hide(): void {
    this.#plot?.destroy()
    this.#plot = undefined
    this.#drawn = -1
  }
}
