// A sky plot of result positions: right ascension and declination columns found by their UCD
// (pos.eq.ra / pos.eq.dec, the meta.main pair first), drawn as a scatter on a canvas with RA
// increasing to the left, as the sky is seen. RA is unwrapped around the points' circular
// mean so a field straddling RA 0 stays in one piece; the x scale is cos(dec) so angles on the
// sky keep their proportions.

const NAME_PAIRS = [
  ["ra", "dec"], ["s_ra", "s_dec"], ["coord_ra", "coord_dec"], ["raj2000", "dej2000"], ["matchra", "matchdec"],
];

function hasUcd(column, word) {
  return (column.ucd || "").toLowerCase().split(";").map((w) => w.trim()).includes(word);
}

/** Indices of the RA and Dec columns, or null. */
export function positionColumns(metadata) {
  const pick = (word) => {
    const all = metadata.map((c, i) => [c, i]).filter(([c]) => hasUcd(c, word));
    const main = all.find(([c]) => hasUcd(c, "meta.main"));
    return (main || all[0] || [null, -1])[1];
  };
  let ra = pick("pos.eq.ra");
  let dec = pick("pos.eq.dec");
  if (ra < 0 || dec < 0) {
    // No UCDs (a CSV table, an expression): fall back to the usual column names.
    const names = metadata.map((c) => c.name.toLowerCase());
    for (const [r, d] of NAME_PAIRS) {
      if (names.includes(r) && names.includes(d)) {
        [ra, dec] = [names.indexOf(r), names.indexOf(d)];
        break;
      }
    }
  }
  return ra >= 0 && dec >= 0 ? { ra, dec } : null;
}

/** A tick label with as many decimals as the step needs. */
function tickLabel(value, step) {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

function niceStep(span, target) {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => raw <= s) || 10 * power;
}

export function drawSky(canvas, caption, result) {
  const figure = canvas.parentElement;
  const found = positionColumns(result.metadata);
  const ra = [];
  const dec = [];
  if (found) {
    for (const row of result.data) {
      const r = row[found.ra];
      const d = row[found.dec];
      if (typeof r === "number" && typeof d === "number" && Number.isFinite(r) && Number.isFinite(d)) {
        ra.push(r);
        dec.push(d);
      }
    }
  }
  canvas.dataset.points = String(ra.length);
  if (!ra.length) {
    figure.hidden = true;
    return;
  }
  figure.hidden = false;
  const names = [result.metadata[found.ra].name, result.metadata[found.dec].name];
  caption.textContent = `${ra.length} positions: ${names[0]}, ${names[1]}`;

  // Unwrap RA around the circular mean.
  let sx = 0;
  let sy = 0;
  for (const r of ra) {
    sx += Math.cos((r * Math.PI) / 180);
    sy += Math.sin((r * Math.PI) / 180);
  }
  const centre = (((Math.atan2(sy, sx) * 180) / Math.PI) + 360) % 360;
  const x = ra.map((r) => ((((r - centre + 540) % 360) - 180)));
  let [xmin, xmax, ymin, ymax] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < x.length; i += 1) {
    xmin = Math.min(xmin, x[i]); xmax = Math.max(xmax, x[i]);
    ymin = Math.min(ymin, dec[i]); ymax = Math.max(ymax, dec[i]);
  }
  // What the plot spans, for tests and curious users: RA range after unwrapping, in degrees.
  canvas.dataset.raSpan = String(xmax - xmin);
  canvas.dataset.raCentre = String(centre);
  const cosDec = Math.max(Math.cos((((ymin + ymax) / 2) * Math.PI) / 180), 0.05);
  // Equal angular scale on both axes, with a margin; a single point gets a small square.
  const width = Math.max((xmax - xmin) * cosDec, ymax - ymin, 1 / 3600) * 1.1;
  const midX = (xmin + xmax) / 2;
  const midY = (ymin + ymax) / 2;

  const ratio = window.devicePixelRatio || 1;
  const css = canvas.clientWidth || 400;
  canvas.width = css * ratio;
  canvas.height = css * ratio;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const pad = { left: 68, right: 12, top: 12, bottom: 40 };
  const plot = css - pad.left - pad.right;
  const plotH = css - pad.top - pad.bottom;
  const size = Math.min(plot, plotH);
  const scale = size / width;
  // RA grows to the left: px decreases with x.
  const px = (xv) => pad.left + plot / 2 - (xv - midX) * cosDec * scale;
  const py = (yv) => pad.top + plotH / 2 - (yv - midY) * scale;

  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, css, css);
  ctx.strokeStyle = "#c9ced6";
  ctx.strokeRect(pad.left, pad.top, plot, plotH);

  // Grid and labels.
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#505866";
  const yStep = niceStep(plotH / scale, 5);
  const yLow = midY - plotH / 2 / scale;
  const yHigh = midY + plotH / 2 / scale;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = Math.ceil(yLow / yStep) * yStep; v <= yHigh; v += yStep) {
    const y = py(v);
    ctx.strokeStyle = "#eef0f3";
    ctx.beginPath(); ctx.moveTo(pad.left, y); ctx.lineTo(pad.left + plot, y); ctx.stroke();
    ctx.fillText(tickLabel(v, yStep), pad.left - 4, y);
  }
  const xSpan = plot / scale / cosDec;
  const xStep = niceStep(xSpan, 5);
  // RA ticks at round values of RA itself (x is RA relative to the centre).
  const raLow = midX - xSpan / 2 + centre;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let a = Math.ceil(raLow / xStep) * xStep; a <= raLow + xSpan; a += xStep) {
    const xx = px(a - centre);
    ctx.strokeStyle = "#eef0f3";
    ctx.beginPath(); ctx.moveTo(xx, pad.top); ctx.lineTo(xx, pad.top + plotH); ctx.stroke();
    const shown = ((a % 360) + 360) % 360;
    ctx.fillText(tickLabel(shown, xStep), xx, pad.top + plotH + 4);
  }
  ctx.fillText(`${names[0]} (deg)`, pad.left + plot / 2, css - 16);
  ctx.save();
  ctx.translate(4, pad.top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${names[1]} (deg)`, 0, 0);
  ctx.restore();

  // Points: smaller and more transparent as they get denser.
  const dot = ra.length > 20000 ? 1 : ra.length > 2000 ? 1.5 : 3;
  ctx.fillStyle = ra.length > 20000 ? "rgba(31, 94, 196, 0.35)" : "rgba(31, 94, 196, 0.8)";
  ctx.beginPath();
  ctx.rect(pad.left, pad.top, plot, plotH);
  ctx.clip();
  for (let i = 0; i < x.length; i += 1) ctx.fillRect(px(x[i]) - dot / 2, py(dec[i]) - dot / 2, dot, dot);
}

export function clearSky(canvas) {
  canvas.dataset.points = "0";
  canvas.parentElement.hidden = true;
}
