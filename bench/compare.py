#!/usr/bin/env python3
"""Measures pythumbio and the ffmpeg CLI doing the same jobs in one run, alternately (A B A B ...),
and writes BENCHMARKS.md: the machine, every figure, every ratio against its target. Run through
bench/run.sh, which starts the origin (nginx on 127.0.0.1:18080) and the service (:18000)."""
import argparse
import math
import os
import platform
import random
import re
import statistics
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request

SERVICE = "http://127.0.0.1:18000"
ORIGIN = "http://127.0.0.1:18080"
V720 = f"{ORIGIN}/720p-5min.mp4"
V720_END = f"{ORIGIN}/720p-5min-moov-end.mp4"
FIT = "scale=w=426:h=240:force_original_aspect_ratio=decrease"


def url(path, **params):
    return f"{SERVICE}{path}?{urllib.parse.urlencode(params)}"


def run_timed(cmd):
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr.decode()[-2000:]}")
    return elapsed


def alternate(a, b, runs, warmup):
    """Times a and b alternately after a warm-up; returns both lists of seconds."""
    for _ in range(warmup):
        run_timed(a)
        run_timed(b)
    times_a, times_b = [], []
    for _ in range(runs):
        times_a.append(run_timed(a))
        times_b.append(run_timed(b))
    return times_a, times_b


def p95(xs):
    xs = sorted(xs)
    return xs[max(0, math.ceil(0.95 * len(xs)) - 1)]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


class Report:
    def __init__(self):
        self.rows = []
        self.notes = []

    def add(self, name, service, ffmpeg, ratio, target, holds):
        self.rows.append((name, service, ffmpeg, f"{ratio:.2f}" if ratio is not None else "n/a", target, holds))
        verdict = "n/a" if holds is None else "holds" if holds else "MISSES"
        print(f"{name}: service {service} | ffmpeg {ffmpeg} | ratio {ratio} | target {target} | {verdict}", flush=True)


def latency(report, name, service_cmd, ffmpeg_cmd, runs, warmup, target):
    s, f = alternate(service_cmd, ffmpeg_cmd, runs, warmup)
    ratio = statistics.median(s) / statistics.median(f)
    report.add(
        name,
        f"median {ms(statistics.median(s))}, p95 {ms(p95(s))}",
        f"median {ms(statistics.median(f))}, p95 {ms(p95(f))}",
        ratio,
        f"<= {target}x",
        ratio <= target,
    )


def stream_service(seconds, source=V720):
    """Transcodes `seconds` of `source` through /webm; returns (first byte s, total s, bytes)."""
    started = time.perf_counter()
    first = None
    size = 0
    with urllib.request.urlopen(url("/webm", url=source, duration=str(seconds))) as response:
        while chunk := response.read1(65536):
            first = first or time.perf_counter() - started
            size += len(chunk)
    return first, time.perf_counter() - started, size


def stream_ffmpeg(seconds, source=V720):
    cmd = ["ffmpeg", "-v", "error", "-t", str(seconds), "-i", source, "-vf", FIT,
           "-c:v", "libvpx", "-b:v", "256k", "-deadline", "realtime", "-cpu-used", "8", "-threads", "2",
           "-c:a", "libopus", "-b:a", "64k", "-f", "webm", "-"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = None
    size = 0
    while chunk := proc.stdout.read1(65536):
        first = first or time.perf_counter() - started
        size += len(chunk)
    proc.wait()
    return first, time.perf_counter() - started, size


def transcode(report, runs):
    seconds = 60
    s_runs, f_runs = [], []
    stream_service(5)  # warm-up
    for _ in range(runs):
        s_runs.append(stream_service(seconds))
        f_runs.append(stream_ffmpeg(seconds))
    frames = seconds * 30
    med = lambda runs, i: statistics.median(r[i] for r in runs)
    s_fps, f_fps = frames / med(s_runs, 1), frames / med(f_runs, 1)
    s_kbps, f_kbps = med(s_runs, 2) * 8 / seconds / 1000, med(f_runs, 2) * 8 / seconds / 1000
    within = abs(s_kbps - f_kbps) <= 0.1 * f_kbps
    report.add("Transcode 60 s of 720p to 426x240 VP8 + Opus: frames/s", f"{s_fps:.0f} fps at {s_kbps:.0f} kbit/s",
               f"{f_fps:.0f} fps at {f_kbps:.0f} kbit/s", s_fps / f_fps, ">= 1.1x, bitrate within 10 %",
               s_fps / f_fps >= 1.1 and within)
    s_first, f_first = med(s_runs, 0), med(f_runs, 0)
    report.add("Transcode: time to the first output byte", ms(s_first), ms(f_first), s_first / f_first, "<= 0.5x",
               s_first / f_first <= 0.5)


# Sources beyond H.264 and 720p, 10 s each with a keyframe every 2 s, as bench/run.sh makes
# them: (label, file, whether the targets apply). A thumbnail at 5.5 s decodes from the
# keyframe at 4 s; one at 4 s is that keyframe.
LARGE_SOURCES = [("1080p HEVC", "hevc-1080p.mp4", False), ("2160p HEVC", "hevc-2160p.mp4", True),
                 ("1080p AV1", "av1-1080p.mp4", False)]


def large_sources(report, runs, warmup, streams):
    """Stills (mid-GOP and at a keyframe) and /webm of HEVC and AV1 sources against ffmpeg."""
    for label, name, targeted in LARGE_SOURCES:
        source = f"{ORIGIN}/{name}"
        for at, what, target in (("5.5", "mid-GOP", 0.5), ("4", "at a keyframe", None)):
            s, f = alternate(["curl", "-sf", "-o", "/dev/null", url("/thumb", url=source, time=at)],
                             ["ffmpeg", "-v", "error", "-ss", at, "-i", source, "-frames:v", "1", "-vf", FIT,
                              "-f", "image2", "-c:v", "mjpeg", "-"], runs, warmup)
            ratio = statistics.median(s) / statistics.median(f)
            bound = target if targeted else None
            report.add(f"Thumbnail of {label} at {at} s ({what}), fit 426x240",
                       f"median {ms(statistics.median(s))}, p95 {ms(p95(s))}",
                       f"median {ms(statistics.median(f))}, p95 {ms(p95(f))}", ratio,
                       f"<= {bound}x" if bound else "measured (no target)", ratio <= bound if bound else None)
        seconds = 10
        s_runs = [stream_service(seconds, source) for _ in range(streams)]
        f_runs = [stream_ffmpeg(seconds, source) for _ in range(streams)]
        s_fps = seconds * 30 / statistics.median(r[1] for r in s_runs)
        f_fps = seconds * 30 / statistics.median(r[1] for r in f_runs)
        kbps = lambda runs: statistics.median(r[2] for r in runs) * 8 / seconds / 1000
        ratio = s_fps / f_fps
        report.add(f"Transcode 10 s of {label} to 426x240 VP8 + Opus: frames/s",
                   f"{s_fps:.0f} fps at {kbps(s_runs):.0f} kbit/s", f"{f_fps:.0f} fps at {kbps(f_runs):.0f} kbit/s",
                   ratio, ">= 1.2x" if targeted else "measured (no target)", ratio >= 1.2 if targeted else None)


def thumbs_ffmpeg_throughput(clients, seconds):
    done = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client():
        while time.perf_counter() < deadline:
            t = random.uniform(0, 290)
            run_timed(["ffmpeg", "-v", "error", "-ss", f"{t:.2f}", "-i", V720, "-frames:v", "1", "-vf", FIT,
                       "-f", "image2", "-c:v", "mjpeg", "-"])
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / seconds


def wrk(seconds, clients, script, target_url, headers=()):
    cmd = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [target_url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, int(errors.group(1)) if errors else 0


def concurrency(report, seconds):
    script = os.path.join(os.path.dirname(__file__), "thumbs.lua")
    s_rps, errors = wrk(seconds, 16, script, SERVICE)
    f_rps = thumbs_ffmpeg_throughput(16, seconds)
    note = f" ({errors} non-2xx)" if errors else ""
    report.add("16 clients, thumbnails at random times: requests/s", f"{s_rps:.1f}/s{note}", f"{f_rps:.1f}/s",
               s_rps / f_rps, ">= 2x", s_rps / f_rps >= 2 and not errors)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        kb = int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
    return kb / 1024


def slow_reader(stop, rate):
    """Reads a whole-file /webm at `rate` bytes/s until stopped."""
    with urllib.request.urlopen(url("/webm", url=V720)) as response:
        while not stop.is_set():
            response.read(rate // 10)
            time.sleep(0.1)


def memory(report, pid):
    idle = rss_mb(pid)
    # The growth rows count from here: the libraries' pages and glibc's arenas that earlier
    # phases left are not a stream's.
    report.add("RSS after the other phases, before the streams (what the growth rows count from)",
               f"{idle:.1f} MB", "n/a", None, "n/a", None)
    growth = []
    for streams in (1, 4, 8):
        stop = threading.Event()
        threads = [threading.Thread(target=slow_reader, args=(stop, 1_000_000)) for _ in range(streams)]
        for t in threads:
            t.start()
        time.sleep(6)
        rss = rss_mb(pid)
        stop.set()
        for t in threads:
            t.join()
        time.sleep(1)
        per = (rss - idle) / streams
        growth.append(per)
        report.add(f"RSS growth per concurrent /webm stream ({streams} streams)", f"{per:.1f} MB ({rss:.0f} MB in all)",
                   "n/a", None, "<= 30 MB", per <= 30)
    stop = threading.Event()
    t = threading.Thread(target=slow_reader, args=(stop, 10_000))
    t.start()
    time.sleep(5)
    early = rss_mb(pid)
    time.sleep(15)
    late = rss_mb(pid)
    stop.set()
    t.join()
    report.add("A client reading /webm at 10 KB/s: RSS after 5 s and after 20 s", f"{early:.1f} MB, then {late:.1f} MB",
               "n/a", None, "flat (within 5 MB)", abs(late - early) <= 5)


def top_level_box(path, name):
    """Size of the first top-level MP4 box called `name`."""
    with open(path, "rb") as f:
        while header := f.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            else:
                f.seek(size - 8, 1)
            if kind == name:
                return size
    raise SystemExit(f"no {name} box in {path}")


def gop_bytes(path, at):
    """Bytes of the video packets from the keyframe at or before `at` to the next keyframe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-read_intervals", f"{at - 6}%{at + 6}",
                          "-show_entries", "packet=pts_time,size,flags", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout
    packets = [(float(p), int(s), "K" in f) for p, s, f in (line.split(",")[:3] for line in out.split())]
    packets.sort()
    start = max(p for p, _, key in packets if key and p <= at)
    end = min(p for p, _, key in packets if key and p > at)
    return sum(s for p, s, _ in packets if start <= p < end)


def origin_traffic(report, bench_dir):
    log = os.path.join(bench_dir, "access.log")
    path = os.path.join(bench_dir, "media", "720p-5min.mp4")
    with open(log, "w"):
        pass
    urllib.request.urlopen(url("/thumb", url=V720, time="150")).read()
    time.sleep(0.5)
    with open(log) as f:
        fetched = sum(int(line.split()[-1]) for line in f if "/720p-5min.mp4" in line)
    budget = top_level_box(path, b"moov") + gop_bytes(path, 150)
    size = os.path.getsize(path)
    report.add("Bytes fetched from the origin for /thumb at 150 s (nginx's log)",
               f"{fetched / 1e6:.2f} MB of a {size / 1e6:.0f} MB file", f"moov + GOP = {budget / 1e6:.2f} MB",
               fetched / budget, "<= 1.5x (moov + GOP)", fetched <= 1.5 * budget)


def scrub(report, bench_dir):
    """30 thumbnails of the 5-minute file at random times, one after another, as a scrubber asks:
    without the origin cache (:18000) and with it (:18001)."""
    log = os.path.join(bench_dir, "access.log")
    path = os.path.join(bench_dir, "media", "720p-5min.mp4")
    rng = random.Random(7)
    times = [round(rng.uniform(0, 295), 1) for _ in range(30)]

    def run(service):
        with open(log, "w"):
            pass
        started = time.perf_counter()
        for t in times:
            urllib.request.urlopen(f"{service}/thumb?{urllib.parse.urlencode({'url': V720, 'time': t})}").read()
        elapsed = time.perf_counter() - started
        time.sleep(0.5)
        with open(log) as f:
            fetched = sum(int(line.split()[-1]) for line in f if "/720p-5min.mp4" in line)
        return elapsed / len(times), fetched

    cold, cold_bytes = run(SERVICE)
    # :18001 has served nothing before: its first thumbnail reads the index like any first one.
    warm, warm_bytes = run("http://127.0.0.1:18001")
    gops = {}
    for t in times:
        gops.setdefault(round(t // 2), gop_bytes(path, t))
    budget = top_level_box(path, b"moov") + sum(gops.values())
    report.add("Scrub: 30 thumbnails of the 5-minute file at random times, time per thumbnail "
               "(ffmpeg column: the service without its origin cache)",
               ms(warm), ms(cold), warm / cold, "<= 0.8x", warm / cold <= 0.8)
    report.add("Scrub: bytes fetched from the origin, with the origin cache (ffmpeg column: moov once + "
               "the GOPs touched)", f"{warm_bytes / 1e6:.2f} MB (without the cache: {cold_bytes / 1e6:.2f} MB)",
               f"{budget / 1e6:.2f} MB", warm_bytes / budget, "<= 1.2x", warm_bytes <= 1.2 * budget)


def not_modified(report, seconds):
    target = url("/thumb", url=V720, time="150")
    etag = urllib.request.urlopen(target).headers["ETag"]
    rps, errors = wrk(seconds, 16, None, target, [f"If-None-Match: {etag}"])
    report.add("Repeated /thumb with If-None-Match (304): requests/s", f"{rps:.0f}/s", "n/a", None, ">= 20000/s",
               rps >= 20000 and not errors)


def auto_thumbnail(report, runs, warmup):
    """time=auto (6 keyframes and the first frame scored) against a plain /thumb of the same file."""
    auto, plain = alternate(["curl", "-sf", "-o", "/dev/null", url("/thumb", url=V720, time="auto")],
                            ["curl", "-sf", "-o", "/dev/null", url("/thumb", url=V720, time="150")], runs, warmup)
    ratio = statistics.median(auto) / statistics.median(plain)
    report.add("/thumb?time=auto of the 720p file (ffmpeg column: a plain /thumb at 150 s)",
               f"median {ms(statistics.median(auto))}", f"median {ms(statistics.median(plain))}", ratio,
               "<= 3x a plain thumbnail", ratio <= 3)


def fetch_size(target):
    started = time.perf_counter()
    with urllib.request.urlopen(target) as response:
        size = len(response.read())
    return time.perf_counter() - started, size


def gif_preview(report, runs):
    """/preview.gif of 60 s of the 720p file (a frame every 4 s at 10 fps) against ffmpeg's
    palettegen/paletteuse, the usual recipe for a good GIF."""
    graph = f"fps=1/4,{FIT},setpts=N/10/TB,split[a][b];[a]palettegen[p];[b][p]paletteuse"
    cmd = ["ffmpeg", "-v", "error", "-t", "60", "-i", V720, "-filter_complex", graph, "-r", "10", "-f", "gif", "-"]
    s_runs, f_runs = [], []
    for _ in range(runs):
        s_runs.append(fetch_size(url("/preview.gif", url=V720, duration="60")))
        started = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, check=True).stdout
        f_runs.append((time.perf_counter() - started, len(out)))
    med = lambda runs, i: statistics.median(r[i] for r in runs)
    report.add("GIF preview of 60 s of 720p (15 frames, 426x240): time", ms(med(s_runs, 0)), ms(med(f_runs, 0)),
               med(s_runs, 0) / med(f_runs, 0), "measured (no target)", None)
    report.add("GIF preview: size (service: a palette per frame; ffmpeg: one palette)",
               f"{med(s_runs, 1) / 1e3:.0f} kB", f"{med(f_runs, 1) / 1e3:.0f} kB",
               med(s_runs, 1) / med(f_runs, 1), "measured (no target)", None)


PEER = "http://127.0.0.1:18002"


def peer(report, runs, warmup):
    """The same thumbnail through thumbor with thumbor-video-engine (bench/thumbor.conf), which
    downloads the whole file, then runs ffmpeg on it."""
    source = V720.removeprefix("http://")
    s, p = alternate(["curl", "-sf", "-o", "/dev/null", url("/thumb", url=V720, time="150")],
                     ["curl", "-sf", "-o", "/dev/null",
                      f"{PEER}/unsafe/fit-in/426x240/filters:still(150):format(jpeg)/{source}"],
                     runs, warmup)
    ratio = statistics.median(s) / statistics.median(p)
    report.add("Thumbnail at 150 s of the 720p file (ffmpeg column: thumbor 7.8 with thumbor-video-engine 1.3)",
               f"median {ms(statistics.median(s))}, p95 {ms(p95(s))}",
               f"median {ms(statistics.median(p))}, p95 {ms(p95(p))}", ratio, "measured (no target)", None)


def scores(output, source, width, height, seconds, start=0.0):
    """Luma SSIM and PSNR (ffmpeg's `ssim` and `psnr` filters) of `output` against `seconds` of
    `source` from `start`, scaled to width x height with Lanczos."""
    graph = (f"[0:v]setpts=PTS-STARTPTS,format=yuv420p,split[d1][d2];"
             f"[1:v]trim=start={start}:duration={seconds},setpts=PTS-STARTPTS,"
             f"scale={width}:{height}:flags=lanczos,format=yuv420p,split[r1][r2];"
             "[d1][r1]ssim;[d2][r2]psnr")
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", output, "-i", source, "-lavfi", graph,
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    ssim = float(re.search(r"SSIM Y:([\d.]+)", err).group(1))
    psnr = float(re.search(r"PSNR y:([\d.inf]+)", err).group(1))
    return ssim, psnr


def video_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=width,height",
                          "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout
    width, height = out.strip().split(",")[:2]
    return int(width), int(height)


# ffmpeg's command for each /webm route at the service's defaults (realtime, cpu-used 8, two
# threads, no frames held back, constant bitrate, a keyframe at least every 60 frames).
ENCODERS = {
    "/webm": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-threads", "2", "-lag-in-frames", "0",
              "-b:v", "256k", "-minrate", "256k", "-maxrate", "256k", "-g", "60"],
    "/webm/vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-threads", "2", "-row-mt", "1",
                  "-lag-in-frames", "0", "-b:v", "256k", "-minrate", "256k", "-maxrate", "256k", "-g", "60"],
}


def webm_quality(report, bench_dir, sources):
    """Each /webm route against ffmpeg with the same encoder settings, video only, on each source:
    SSIM and PSNR of both outputs against the source at the output size, bitrate and frames/s."""
    seconds = 20
    tmp = os.path.join(bench_dir, "tmp")
    for label, name, fps in sources:
        path = os.path.join(bench_dir, "media", name)
        source = f"{ORIGIN}/{name}"
        for route, encoder in ENCODERS.items():
            mine, theirs = os.path.join(tmp, "service.webm"), os.path.join(tmp, "ffmpeg.webm")
            started = time.perf_counter()
            with urllib.request.urlopen(url(route, url=source, duration=str(seconds), audio="false")) as response, \
                    open(mine, "wb") as out:
                while chunk := response.read1(65536):
                    out.write(chunk)
            s_time = time.perf_counter() - started
            f_time = run_timed(["ffmpeg", "-v", "error", "-y", "-t", str(seconds), "-i", source, "-vf", FIT, "-an",
                                *encoder, "-f", "webm", theirs])
            width, height = video_size(mine)
            s_ssim, s_psnr = scores(mine, path, width, height, seconds)
            f_ssim, f_psnr = scores(theirs, path, *video_size(theirs), seconds)
            s_kbps = os.path.getsize(mine) * 8 / seconds / 1000
            f_kbps = os.path.getsize(theirs) * 8 / seconds / 1000
            frames = seconds * fps
            s_fps, f_fps = frames / s_time, frames / f_time
            holds = s_ssim >= f_ssim and s_psnr >= f_psnr and s_kbps <= 1.05 * f_kbps and s_fps >= 1.3 * f_fps
            report.add(f"{route} of {seconds} s of {label} at {width}x{height}, video only: SSIM / PSNR (Y) against "
                       "the source Lanczos-scaled, bitrate, frames/s",
                       f"{s_ssim:.4f} / {s_psnr:.2f} dB at {s_kbps:.0f} kbit/s, {s_fps:.0f} fps",
                       f"{f_ssim:.4f} / {f_psnr:.2f} dB at {f_kbps:.0f} kbit/s, {f_fps:.0f} fps",
                       s_fps / f_fps, "SSIM, PSNR >= ffmpeg's; bitrate <= 1.05x; >= 1.3x frames/s", holds)


# The colour matrix a player applies to a source: the one it states, else BT.709 above 576 lines
# and BT.601 up to them (as GStreamer assumes, and players for HD). (Kr, Kb) of Y' = Kr R + Kg G + Kb B.
MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
STATED = {"bt709": "bt709", "bt470bg": "bt601", "smpte170m": "bt601"}


def player_matrix(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=color_space,width,height", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    import json
    stream = json.loads(out)["streams"][0]
    stated = STATED.get(stream.get("color_space", ""))
    return stated or ("bt709" if stream["height"] > 576 else "bt601"), stream["width"], stream["height"]


def luma(rgb, matrix):
    """Limited-range Y' (floats) of an RGB array (0..255) under `matrix`."""
    kr, kb = MATRICES[matrix]
    return 16 + 219 * (kr * rgb[..., 0] + (1 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]) / 255


def upsampled(chroma, width, height):
    """A 4:2:0 chroma plane at the luma's size, linearly interpolated where MPEG-2 and H.264 site
    it (with the luma's even columns; between its rows)."""
    import numpy as np
    padded = np.pad(chroma, ((1, 1), (0, 1)), mode="edge")
    rows = np.empty((2 * chroma.shape[0], chroma.shape[1] + 1))
    rows[0::2] = 0.75 * padded[1:-1] + 0.25 * padded[:-2]
    rows[1::2] = 0.75 * padded[1:-1] + 0.25 * padded[2:]
    full = np.empty((rows.shape[0], 2 * chroma.shape[1]))
    full[:, 0::2] = rows[:, :-1]
    full[:, 1::2] = (rows[:, :-1] + rows[:, 1:]) / 2
    return full[:height, :width]


def reference_luma(path, at, width, height):
    """The luma a player shows of the frame `ffmpeg -ss` picks at `at`, scaled to width x height
    by Pillow's Lanczos (a=3, an implementation of its own, not swscale's): the decoded planes to
    RGB with the player's matrix, each channel resized in floats, clipped before and after as
    any RGB output is."""
    import numpy as np
    from PIL import Image
    matrix, w, h = player_matrix(path)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(at), "-i", path, "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], capture_output=True, check=True).stdout
    planes = np.frombuffer(raw, np.uint8).astype(np.float64)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    y = planes[:w * h].reshape(h, w)
    u = upsampled(planes[w * h:w * h + cw * ch].reshape(ch, cw), w, h)
    v = upsampled(planes[w * h + cw * ch:w * h + 2 * cw * ch].reshape(ch, cw), w, h)
    kr, kb = MATRICES[matrix]
    yn, un, vn = (y - 16) / 219, (u - 128) / 224, (v - 128) / 224
    r = yn + 2 * (1 - kr) * vn
    b = yn + 2 * (1 - kb) * un
    g = (yn - kr * r - kb * b) / (1 - kr - kb)
    channels = [np.clip(c, 0, 1) * 255 for c in (r, g, b)]
    # Clipped again after scaling: Lanczos overshoots at edges, and an RGB output cannot.
    scaled = [np.clip(np.asarray(Image.fromarray(c.astype(np.float32), "F").resize((width, height), Image.LANCZOS)),
                      0, 255) for c in channels]
    return luma(np.stack(scaled, -1).astype(np.float64), matrix), matrix


def luma_scores(png, reference, matrix, tmp):
    """Luma SSIM and PSNR (ffmpeg's `ssim` and `psnr` filters, on 8-bit grey) of an RGB picture
    against a reference luma plane."""
    import numpy as np
    from PIL import Image
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(np.float64)
    height, width = reference.shape
    files = []
    for name, plane in (("output.y", luma(rgb, matrix)), ("reference.y", reference)):
        files.append(os.path.join(tmp, name))
        np.clip(np.rint(plane), 0, 255).astype(np.uint8).tofile(files[-1])
    grey = ["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{width}x{height}"]
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", *grey, "-i", files[0], *grey, "-i", files[1],
                          "-lavfi", "[0:v]split[d1][d2];[1:v]split[r1][r2];[d1][r1]ssim;[d2][r2]psnr",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    ssim = float(re.search(r"SSIM Y:([\d.]+)", err).group(1))
    psnr = float(re.search(r"PSNR y:([\d.inf]+)", err).group(1))
    return ssim, psnr


def still_quality(report, bench_dir, sources):
    """/thumb.png at 5 s against ffmpeg's `-vf scale` frame, each scored by its luma as a player
    shows it against the frame Lanczos-scaled by Pillow (see `reference_luma`)."""
    tmp = os.path.join(bench_dir, "tmp")
    for label, name, fps in sources:
        path = os.path.join(bench_dir, "media", name)
        mine, theirs = os.path.join(tmp, "service.png"), os.path.join(tmp, "ffmpeg.png")
        with urllib.request.urlopen(url("/thumb.png", url=f"{ORIGIN}/{name}", time="5")) as response, \
                open(mine, "wb") as out:
            out.write(response.read())
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "5", "-i", path, "-frames:v", "1", "-vf", FIT, theirs],
                       check=True)
        width, height = video_size(mine)
        if video_size(theirs) != (width, height):
            raise RuntimeError(f"the stills differ in size: {video_size(theirs)} and {(width, height)}")
        reference, matrix = reference_luma(path, 5, width, height)
        s_ssim, s_psnr = luma_scores(mine, reference, matrix, tmp)
        f_ssim, f_psnr = luma_scores(theirs, reference, matrix, tmp)
        report.add(f"/thumb.png at 5 s of {label} at {width}x{height}: SSIM / PSNR (Y, {matrix.upper()} as a player "
                   "shows it) against the frame Lanczos-scaled by Pillow (ffmpeg column: `-vf scale`)",
                   f"{s_ssim:.4f} / {s_psnr:.2f} dB", f"{f_ssim:.4f} / {f_psnr:.2f} dB", None,
                   "SSIM >= ffmpeg's", s_ssim >= f_ssim)


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    gst = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True, text=True).stdout.splitlines()[1]
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    return [
        f"- {os.cpu_count()} cores, {cpu.group(1) if cpu else platform.processor()}, {platform.system()} {platform.release()}",
        f"- {gst}; {ffmpeg}",
        f"- measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]


def write(report, quick):
    lines = [
        "# Benchmarks",
        "",
        "pythumbio against the ffmpeg CLI doing the same job, in one run, on media served by nginx over",
        "loopback HTTP. Latencies are measured alternately (service, ffmpeg, service, ffmpeg...) after a",
        "warm-up, each as a whole client process (curl for the service, ffmpeg/ffprobe itself): the cost a",
        "caller of either pays. The service runs without its in-memory cache, so every request is made cold;",
        "the 304 row measures HTTP caching. Ratios are service / ffmpeg (or the figure against its target).",
        "",
        "Reproduce with `bench/run.sh` (`--quick` for fewer runs).",
        "",
        "## Machine",
        *machine(),
        "",
        f"## Figures{' (quick run)' if quick else ''}",
        "",
        "| What | pythumbio | ffmpeg | Ratio | Target | Holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, service, ffmpeg, ratio, target, holds in report.rows:
        verdict = "n/a" if holds is None else "yes" if holds else "**no**"
        lines.append(f"| {name} | {service} | {ffmpeg} | {ratio} | {target} | {verdict} |")
    lines += ["", "## Commands compared", "",
              "- Thumbnail: `curl /thumb?url=URL&time=150` against "
              f"`ffmpeg -ss 150 -i URL -frames:v 1 -vf {FIT} -f image2 -c:v mjpeg -`.",
              "- Metadata: `curl /meta?url=URL` against `ffprobe -v quiet -print_format json -show_format -show_streams -i URL`.",
              "- Transcode: `/webm?url=URL&duration=60` against `ffmpeg -t 60 -i URL -vf ... -c:v libvpx -b:v 256k "
              "-deadline realtime -cpu-used 8 -threads 2 -c:a libopus -b:a 64k -f webm -`.",
              "- GIF preview: `/preview.gif?url=URL&duration=60` against `ffmpeg -t 60 -i URL -filter_complex "
              "\"fps=1/4,scale...,setpts=N/10/TB,split[a][b];[a]palettegen[p];[b][p]paletteuse\" -r 10 -f gif -`.",
              "- time=auto: `/thumb?url=URL&time=auto` against the service's own `/thumb?url=URL&time=150`.",
              "- Throughput: `wrk -c16` on /thumb at random times (bench/thumbs.lua) against 16 threads each running the "
              "ffmpeg thumbnail command in a loop.",
              "- Quality: `/webm?url=URL&duration=20&audio=false` (and `/webm/vp9`) against `ffmpeg -t 20 -i URL -vf ... -an` "
              "with the same encoder, speed, threads, constant bitrate (256 kbit/s) and keyframe distance; each output "
              "and `/thumb.png` against ffmpeg's `-vf scale` frame, scored with ffmpeg's `ssim` and `psnr` filters against "
              "the source scaled to the output's size with Lanczos.",
              "- Peer: `/thumb?url=URL&time=150` against thumbor 7.8 with thumbor-video-engine 1.3 (bench/thumbor.conf): "
              "`/unsafe/fit-in/426x240/filters:still(150):format(jpeg)/URL`.",
              ""]
    notes = os.path.join(os.path.dirname(__file__), "NOTES.md")
    if os.path.exists(notes):
        lines += ["", open(notes).read()]
    with open("BENCHMARKS.md", "w") as f:
        f.write("\n".join(lines))
    print("wrote BENCHMARKS.md")


# The sources the quality rows score: (label, file in the media directory, frames/s).
QUALITY_SOURCES = [("the 720p file", "720p-5min.mp4", 30), ("an SD camera-like clip (ffmpeg)", "sd-grain.mp4", 30)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--service-pid", type=int, required=True)
    parser.add_argument("--bench-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated phases to run (the figures are printed, BENCHMARKS.md is "
                                       "left alone): " + ", ".join(PHASES))
    args = parser.parse_args()
    runs, warmup, load = (5, 1, 10) if args.quick else (20, 3, 30)
    report = Report()
    idle = rss_mb(args.service_pid)
    context = dict(runs=runs, warmup=warmup, load=load, quick=args.quick, bench_dir=args.bench_dir)
    chosen = args.only.split(",") if args.only else list(PHASES)
    for phase in chosen:
        PHASES[phase](report, context)
    if args.only:
        return
    report.rows.insert(0, ("Idle RSS (after start, before any request)", f"{idle:.1f} MB", "n/a", "n/a", "<= 40 MB", idle <= 40))
    memory_rows = Report()
    memory(memory_rows, args.service_pid)
    report.rows += memory_rows.rows
    write(report, args.quick)


def thumbnails(report, c):
    latency(report, "Thumbnail at 150 s of the 720p file, fit 426x240",
            ["curl", "-sf", "-o", "/dev/null", url("/thumb", url=V720, time="150")],
            ["ffmpeg", "-v", "error", "-ss", "150", "-i", V720, "-frames:v", "1", "-vf", FIT, "-f", "image2", "-c:v", "mjpeg", "-"],
            c["runs"], c["warmup"], 0.5)
    latency(report, "Thumbnail at 150 s, moov at the end",
            ["curl", "-sf", "-o", "/dev/null", url("/thumb", url=V720_END, time="150")],
            ["ffmpeg", "-v", "error", "-ss", "150", "-i", V720_END, "-frames:v", "1", "-vf", FIT, "-f", "image2", "-c:v", "mjpeg", "-"],
            c["runs"], c["warmup"], 0.5)


def metadata(report, c):
    latency(report, "Metadata of the 720p file",
            ["curl", "-sf", "-o", "/dev/null", url("/meta", url=V720)],
            ["ffprobe", "-v", "quiet", "-print_format", "json", "-show_format", "-show_streams", "-i", V720],
            c["runs"], c["warmup"], 0.5)


PHASES = {
    "thumbnails": thumbnails,
    "metadata": metadata,
    "auto": lambda r, c: auto_thumbnail(r, c["runs"], c["warmup"]),
    "transcode": lambda r, c: transcode(r, 1 if c["quick"] else 3),
    "large": lambda r, c: large_sources(r, max(3, c["runs"] // 2), 1, 1 if c["quick"] else 2),
    "quality": lambda r, c: (webm_quality(r, c["bench_dir"], QUALITY_SOURCES),
                             still_quality(r, c["bench_dir"], QUALITY_SOURCES)),
    "peer": lambda r, c: peer(r, max(3, c["runs"] // 4), 1),
    "gif": lambda r, c: gif_preview(r, 1 if c["quick"] else 3),
    "concurrency": lambda r, c: concurrency(r, c["load"]),
    "origin": lambda r, c: origin_traffic(r, c["bench_dir"]),
    "scrub": lambda r, c: scrub(r, c["bench_dir"]),
    "304": lambda r, c: not_modified(r, max(5, c["load"] // 3)),
}


if __name__ == "__main__":
    main()
