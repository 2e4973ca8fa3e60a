// Line charts over Chart.js (vendored, loaded by index.html as window.Chart).

// lineChart draws one dataset on canvas; null when Chart.js is not loaded.
export function lineChart(canvas, label, color) {
  if (!window.Chart) return null;
  return new window.Chart(canvas, {
    type: 'line',
    data: { labels: [], datasets: [{ label, data: [], borderColor: color, backgroundColor: color, pointRadius: 2, borderWidth: 2, tension: 0.2 }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } }, plugins: { legend: { display: true } } },
  });
}

// setPoints replaces a chart's points ([unix seconds, value] pairs).
export function setPoints(chart, points) {
  if (!chart) return;
  chart.data.labels = points.map(([t]) => new Date(t * 1000).toLocaleTimeString());
  chart.data.datasets[0].data = points.map(([, v]) => v);
  chart.update('none');
}
