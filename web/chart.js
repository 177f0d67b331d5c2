// A small rolling line chart on a canvas: one value per series per
// update, the last `points` kept.

const COLOURS = ['#1f6feb', '#1a7f37', '#9a6700', '#cf222e', '#8250df'];

export class Chart {
  constructor(canvas, series, { max = null, points = 120, unit = '' } = {}) {
    this.canvas = canvas;
    this.series = series;
    this.data = series.map(() => []);
    this.max = max;
    this.points = points;
    this.unit = unit;
  }

  push(values) {
    values.forEach((v, i) => {
      const d = this.data[i];
      d.push(Number.isFinite(v) ? v : 0);
      if (d.length > this.points) d.shift();
    });
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const ctx = canvas.getContext('2d');
    const w = canvas.width, h = canvas.height, pad = 18;
    const top = this.max ?? Math.max(1, ...this.data.flat()) * 1.15;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#5b6470';
    ctx.fillText(`${+top.toFixed(2)}${this.unit}`, 2, 11);
    ctx.fillText(`0${this.unit}`, 2, h - 3);
    this.data.forEach((d, i) => {
      ctx.strokeStyle = COLOURS[i % COLOURS.length];
      ctx.lineWidth = 2;
      ctx.beginPath();
      d.forEach((v, j) => {
        const x = pad + ((w - pad) * j) / (this.points - 1);
        const y = h - pad / 2 - ((h - pad) * Math.min(v, top)) / top;
        if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
      ctx.fillStyle = COLOURS[i % COLOURS.length];
      ctx.fillText(this.series[i], w - 110, 12 + 13 * i);
    });
  }
}
