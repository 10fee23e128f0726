"""The benchmark table (Markdown) from the figures scripts/bench.py collected."""

from __future__ import annotations

from typing import Any


def _row(measure: str, result: str, target: str = "") -> str:
    return f"| {measure} | {result} | {target} |"


def _ingest_rows(r: dict[str, Any]) -> list[str]:
    threads = r["torch_threads"] if r["torch_threads"] is not None else "torch default"
    if r.get("embed_workers", 1) > 1:  # older --json files lack the field
        threads = f"{r['embed_workers']} embed workers x 1"
    base = f" (torch threads: {r['baseline_threads']})" if r.get("baseline_threads") else ""
    return [
        _row(
            f"Ingest, {r['articles']:,} articles -> {r['chunks']:,} passages ({r['distinct']:,} distinct)",
            f"{r['pipeline_rate']:.1f} passages/s (torch threads: {threads})",
        ),
        _row(
            "Plain `SentenceTransformer.encode`, same passages, batch 32", f"{r['baseline_rate']:.1f} passages/s{base}"
        ),
        _row(
            "Ingest / encode throughput",
            f"**{r['ratio']:.2f}** overall, {r['median_segment_ratio']:.2f} median "
            f"of {len(r['segment_ratios'])} interleaved segments",
            ">= 0.90",
        ),
        *_precision_rows(r),
        _row("Peak RSS, ingest process (model + encode beside it)", f"{r['peak_rss_mb']:.0f} MB"),
        _row("Database size (real passages)", f"{r['db_bytes'] / 1e6 / (r['chunks'] / 1000):.2f} MB per 1k passages"),
    ]


def _precision_rows(r: dict[str, Any]) -> list[str]:
    """The reduced-precision pipeline against the float32 one, same segments (none when both are float32)."""
    if not r.get("float32_s"):
        return []
    return [
        _row(
            f"Ingest in {r['precision']} / in float32, articles/s",
            f"**{r['precision_speedup']:.2f}x**: {r['articles_rate']:.2f} vs {r['float32_articles_rate']:.2f} articles/s",
            ">= 2",
        )
    ]


def _search_rows(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        n = f"{r['chunks']:,}"
        out.append(
            _row(
                f"Semantic search p50 / p95, {n} passages ({r['path']})",
                f"{r['semantic_p50']:.1f} / {r['semantic_p95']:.1f} ms",
            )
        )
        target = {100_000: "p50 <= 60 ms", 1_000_000: "p50 <= 150 ms"}.get(r["chunks"], "")
        out.append(
            _row(
                f"Hybrid search p50 / p95, {n} passages",
                f"**{r['hybrid_p50']:.1f}** / {r['hybrid_p95']:.1f} ms",
                target,
            )
        )
        if r.get("keyword_p50"):
            out.append(
                _row(f"Keyword search p50 / p95, {n} passages", f"{r['keyword_p50']:.0f} / {r['keyword_p95']:.0f} ms")
            )
        if r.get("embedded_hybrid_p50"):
            out.append(
                _row(
                    f"Hybrid search p50 / p95 with query embedding (NumPy encoder), {n} passages",
                    f"**{r['embedded_hybrid_p50']:.1f}** / {r['embedded_hybrid_p95']:.1f} ms",
                    "p50 <= 10 ms at 20k" if r["chunks"] <= 20_000 else "",
                )
            )
        if r["recall_at_10"] is not None:
            out.append(
                _row(
                    f"Recall@10 vs exact float scan, {n} passages",
                    f"**{r['recall_at_10']:.3f}**; summed cosine of the top 10 {r['similarity_ratio']:.4f} of "
                    f"exact (exact semantic p50 {r['exact_semantic_p50']:.0f} ms)",
                    ">= 0.98",
                )
            )
        if r.get("first_ms"):
            out.append(
                _row(f"First hybrid search of a process, {n} passages (page cache warm)", f"{r['first_ms']:.0f} ms")
            )
        out.append(
            _row(
                f"Peak RSS / size, {n} passages",
                f"{r['peak_rss_mb']:.0f} MB / {r['db_mb_per_1k']:.2f} MB per 1k passages",
            )
        )
    return out


def _other_rows(results: dict[str, Any]) -> list[str]:
    out = []
    if "embed" in results:
        e = results["embed"]
        out.append(
            _row(
                "Query embedding, NumPy encoder (load / per query)",
                f"{e['numpy_load_ms']:.0f} ms / {e['numpy_ms']:.1f} ms (min cosine to torch {e['min_cosine']:.5f})",
            )
        )
        out.append(
            _row(
                "Query embedding, torch SentenceTransformer (load / per query)",
                f"{e['torch_load_ms']:.0f} ms / {e['torch_ms']:.1f} ms",
            )
        )
    for c in results.get("cold", []):
        if c.get("startup"):
            out.append(
                _row(
                    f"Cold `{c['label']}`",
                    f"**{c['wall_s']:.3f} s** wall, {c['cpu_s']:.3f} s CPU (median of {c['runs']}, load {c['load_average']:.1f})",
                    "< 0.3 s",
                )
            )
            continue
        passages = int(c.get("passages", 10_000))  # results written before --cold-sizes: 10k
        targets = {10_000: "<= 0.4 s", 1_000_000: "<= 0.8 s"}
        target = targets.get(passages, "") if "default" in c["label"] else ""
        out.append(
            _row(
                f"Cold `archive search -k 5`, {passages:,} passages, {c['label']}",
                f"**{c['wall_s']:.2f} s** wall, {c['cpu_s']:.2f} s CPU, {c['peak_rss_mb']:.0f} MB peak "
                f"(median of {c['runs']}, load {c['load_average']:.1f})",
                target,
            )
        )
    if "chroma" in results:
        out.extend(_chroma_rows(results["chroma"], results.get("ingest")))
    return out


def _chroma_rows(c: dict[str, Any], ingest: dict[str, Any] | None) -> list[str]:
    ours = c["ours"]
    if "error" in c:
        return [_row("chromadb side by side", f"not run: {c['error']}")]
    theirs = c["chroma"]
    rows = [
        _row(
            f"chromadb {theirs['version']}: insert {theirs['chunks']:,} precomputed vectors",
            f"{theirs['chunks'] / theirs['add_s']:.0f} passages/s (store only)",
        )
    ]
    if ingest:
        total = ingest["baseline_s"] + theirs["add_s"]
        rate = theirs["chunks"] / total
        rows.append(
            _row(
                "Ingest incl. embedding: archive vs encode + chromadb add",
                f"{ingest['pipeline_rate']:.1f} vs {rate:.1f} passages/s (ratio {ingest['pipeline_rate'] / rate:.2f})",
            )
        )
    rows += [
        _row(
            f"Semantic query p50 / p95, the same {ours['queries']} query vectors: archive vs chromadb",
            f"{ours['query_p50_ms']:.1f} / {ours['query_p95_ms']:.1f} ms vs {theirs['query_p50_ms']:.1f} / "
            f"{theirs['query_p95_ms']:.1f} ms (ratio {ours['query_p50_ms'] / theirs['query_p50_ms']:.2f})",
        ),
        _row(
            "On disk: archive (text, FTS5, vectors, bits) vs chromadb",
            f"{ours['disk_bytes'] / 1e6:.0f} MB vs {theirs['disk_bytes'] / 1e6:.0f} MB",
        ),
        _row(
            "Peak RSS of the query process: archive vs chromadb",
            f"{ours['peak_rss_mb']:.0f} MB vs {theirs['peak_rss_mb']:.0f} MB",
        ),
    ]
    return rows


def tradeoff_table(blocks: list[dict[str, Any]]) -> str:
    """Prefilter candidates rescored against latency and recall, per archive size."""
    lines = ["| Passages | Path | Semantic p50 | Hybrid p50 | Recall@10 |", "|---|---|---|---|---|"]
    for block in blocks:
        for r in block["rows"]:
            how = "exact float scan" if r["candidates"] == 0 else f"bits, {r['candidates']} rescored"
            lines.append(
                f"| {block['chunks']:,} {block.get('data', 'synthetic')} | {how} | {r['semantic_p50']:.0f} ms | "
                f"{r['hybrid_p50']:.0f} ms | {r['recall_at_10']:.3f} |"
            )
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """A Markdown table of every figure present in ``results``."""
    lines = ["| Measure | Result | Target |", "|---|---|---|"]
    if "ingest" in results:
        lines += _ingest_rows(results["ingest"])
    lines += _search_rows(results.get("search", []))
    lines += _other_rows(results)
    if results.get("serve"):
        from bench_serve import rows

        lines += rows(results["serve"])
    if results.get("tradeoff"):
        lines += ["", tradeoff_table(results["tradeoff"])]
    lines.append(
        f"\n{results.get('cpus')} CPUs; load average {results['load_average_start']:.1f} at start, "
        f"{results['load_average_end']:.1f} at end (other engineers' jobs share the machine)."
    )
    return "\n".join(lines)
