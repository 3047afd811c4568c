// Time-series charts on uPlot. Site times arrive in the site's own zone and the pages show them as
// written, so x values are the site's wall-clock seconds read as UTC and uPlot formats them in UTC:
// a phone in another zone (or a test machine's TZ) does not shift the axis.
import uPlot from 'uplot';

export function wallSeconds(iso) {
  const m = typeof iso === 'string' && iso.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) / 1000 : null;
}

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// series: [{label, colour (a CSS custom property), fill (bool), dash (bool), step (bool)}];
// data: [xs, ...ys] as uPlot takes them. The chart keeps the container's width.
export class TimeChart {
  constructor(container, series, height) {
    this.container = container;
    this.series = series;
    this.height = height;
    this.plot = null;
    this.resize = () => this.plot && this.plot.setSize({ width: this.width(), height: this.height });
    window.addEventListener('resize', this.resize);
  }

  destroy() {
    window.removeEventListener('resize', this.resize);
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  width() { return Math.max(200, this.container.clientWidth || 320); }

  options() {
    const muted = cssColour('--muted');
    const grid = cssColour('--grid');
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
                   font: '11px system-ui, sans-serif' };
    return {
      width: this.width(),
      height: this.height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.05] } },
      axes: [{ ...axis, values: '{HH}:{mm}' }, { ...axis, size: 44 }],
      series: [{}, ...this.series.map((s) => ({
        label: s.label,
        stroke: cssColour(s.colour),
        width: s.dash ? 2 : 1.5,
        dash: s.dash ? [6, 4] : undefined,
        fill: s.fill ? cssColour(s.colour) : undefined,
        paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: false },
        spanGaps: false,
      }))],
    };
  }

  // Labels change with the language, so a new set of series rebuilds the chart.
  setSeries(series) {
    if (JSON.stringify(series) === JSON.stringify(this.series)) return;
    this.series = series;
    if (this.plot) { this.plot.destroy(); this.plot = null; }
  }

  setData(data) {
    if (this.plot) this.plot.setData(data);
    else this.plot = new uPlot(this.options(), data, this.container);
  }
}
