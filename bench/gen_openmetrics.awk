# Writes synthetic HTTP request counters as OpenMetrics text, one file per TSDB block range, for
# `promtool tsdb create-blocks-from openmetrics`. Samples are written time-major (every series at
# one scrape, then the next scrape): the backfiller's block writer rejects a sample more than half a
# block older than the newest one it has taken, so series-major order would not load.
#
# Variables (awk -v): start, end (unix seconds), interval (scrape interval, seconds), block (block
# range, seconds; files are aligned to it like Prometheus's blocks), out (output folder), seed.
# Prints the shape of the data (series, samples, files) on standard output.
#
# Series: 10 instances x 5 paths x 5 codes = 250 counters of bench_requests_total{job="bench"}.
# Traffic follows a day/night cycle (peak 15:00 UTC, trough 10% of peak) and a weekend dip; each
# instance has its own weight, scrape offset and one restart (counter reset) in the month. Errors:
# a background of 0.05% 500s and 0.03% 503s, plus three incidents (see below).
function rate_of(inst, p, c, t,    hod, dow, base, frac) {
  hod = (t % 86400) / 3600
  dow = int(t / 86400 + 4) % 7                       # 1970-01-01 was a Thursday; 0 = Sunday
  base = inst_w[inst] * path_w[p] * (0.55 + 0.45 * sin(2 * 3.14159265358979 * (hod - 9) / 24))
  if (dow == 0 || dow == 6) base *= 0.7
  frac = code_f[c]
  # Incident A: one instance answers 20% of its requests with 503 for 45 minutes.
  if (t >= incA && t < incA + 2700 && inst == 3) { if (c == 5) frac += 0.20; if (c == 1) frac -= 0.20 }
  # Incident B: a bad deploy, 1% of /api/search fails with 500 everywhere for 3 hours.
  if (t >= incB && t < incB + 10800 && p == 3) { if (c == 4) frac += 0.01; if (c == 1) frac -= 0.01 }
  # Incident C: three instances answer 5% 503s for 25 minutes, a few hours before the end.
  if (t >= incC && t < incC + 1500 && inst <= 3) { if (c == 5) frac += 0.05; if (c == 1) frac -= 0.05 }
  return base * frac
}
BEGIN {
  srand(seed)
  ninst = 10; npath = 5; ncode = 5
  split("/api/orders /api/cart /api/search /api/items /login", path_n, " ")
  split("4 6 20 12 2", path_w, " ")                  # requests per second per instance at peak
  split("200 404 429 500 503", code_n, " ")
  split("0.9866 0.012 0.0006 0.0005 0.0003", code_f, " ")
  incA = start + int(8.3 * 86400); incB = start + int(21.6 * 86400); incC = end - 13200
  nseries = 0
  for (i = 1; i <= ninst; i++) {
    inst_w[i] = 0.7 + 0.6 * rand()
    offset[i] = int(rand() * interval * 1000) / 1000  # each target is scraped at its own phase
    restart[i] = start + int((1 + 28 * rand()) * 86400)
    restarted[i] = 0
    for (p = 1; p <= npath; p++) for (c = 1; c <= ncode; c++) {
      k = (i - 1) * npath * ncode + (p - 1) * ncode + c
      lbl[k] = sprintf("bench_requests_total{job=\"bench\",instance=\"10.0.%d.%d:8080\",path=\"%s\",code=\"%s\"}", i, 10 + i, path_n[p], code_n[c])
      value[k] = int(rand() * 1e6 * path_w[p] * code_f[c])   # processes ran before the data starts
      nseries++
    }
  }
  samples = 0; files = 0
  for (t0 = start; t0 <= end; t0 += interval) {
    for (i = 1; i <= ninst; i++) {
      t = t0 + offset[i]
      blk = int(t / block)                            # the file of the block range t falls in
      if (!(blk in file)) {
        file[blk] = sprintf("%s/%012d.om", out, blk * block)
        files++
        print "# HELP bench_requests Requests handled, by instance, path and status code." > file[blk]
        print "# TYPE bench_requests counter" > file[blk]
      }
      f = file[blk]
      reset = 0
      if (!restarted[i] && t >= restart[i]) { restarted[i] = 1; reset = 1 }
      for (p = 1; p <= npath; p++) for (c = 1; c <= ncode; c++) {
        k = (i - 1) * npath * ncode + (p - 1) * ncode + c
        inc = int(rate_of(i, p, c, t) * interval + rand())
        value[k] = reset ? inc : value[k] + inc
        printf "%s %.0f %.3f\n", lbl[k], value[k], t > f
        samples++
      }
    }
  }
  for (blk in file) { print "# EOF" > file[blk]; close(file[blk]) }
  printf "series %d\nsamples %d\nfiles %d\n", nseries, samples, files
}
