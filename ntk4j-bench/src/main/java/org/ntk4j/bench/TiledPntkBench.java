package org.ntk4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.ntk4j.cpu.Blas;
import org.ntk4j.io.Npy;
import org.ntk4j.io.OutputFiles;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The N×N pntk kernel of x with itself three ways, interleaved round by round so that all see the same load:
 * the machine's SGEMM rate (2048³, all cores), the untiled kernel in memory (BLAS on all cores) and the tiled
 * run written through the tile store under a memory budget (one BLAS thread per tile, a tile per core).
 * Usage: {@code TiledPntkBench DATA.npy [model] [budget: 1g, 512m, bytes] [rounds] [out dir] [--overwrite]}. The
 * tiled run writes {@code pntk_tiled.npy} in the out dir (default: a new temporary directory; beside the command
 * line's {@code pntk.npy} in {@code ntk4j-bench/run-tiled-pntk.sh}), refused before any work when it exists there
 * unless {@code --overwrite}, and replaced round by round.
 */
public final class TiledPntkBench {
    /** The file the tiled run writes in the out dir. */
    static final String TILED_FILE = "pntk_tiled.npy";

    private TiledPntkBench() {
    }

    /**
     * Runs the three ways round by round and prints their times.
     *
     * @param args {@code DATA.npy [model] [budget] [rounds] [out dir] [--overwrite]}
     * @throws IllegalArgumentException when the out dir holds {@code pntk_tiled.npy} already, or does not exist
     * @throws Exception when a file cannot be read or written
     */
    public static void main(String[] args) throws Exception {
        boolean overwrite = java.util.Arrays.asList(args).contains("--overwrite");
        args = java.util.Arrays.stream(args).filter(a -> !a.equals("--overwrite")).toArray(String[]::new);
        Path data = Path.of(args[0]);
        String spec = args.length > 1 ? args[1] : "fcn(depth=2,width=512,out=10)";
        long budget = args.length > 2 ? bytes(args[2]) : 1L << 30;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Path dir = args.length > 4 ? Path.of(args[4]) : Files.createTempDirectory("tiled-pntk");
        Path out = dir.resolve(TILED_FILE);
        // before any work: a file of that name is not this run's to replace
        (overwrite ? OutputFiles.replacingExisting() : OutputFiles.refusingExisting()).input("DATA.npy", data)
                .output("[out dir]", out, ".npy").check();
        int cores = Runtime.getRuntime().availableProcessors();
        KernelKind kind = KernelKind.parse("pntk", 0);
        try (Tensor x = Npy.readTensor(data, DType.F32)) {
            int[] perExample = Shapes.dropFirst(x.shape());
            int n = x.dim(0);
            Model m = Zoo.parse(spec);
            Params p = m.init(0, perExample, DType.F32);
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).memoryBudget(budget);
            TilePlan plan = TilePlanner.of(ntk, kind).budget(budget).workers(cores).plan(n, 0, perExample, DType.F32);
            double flops = plan.flops();
            String fp = RunFingerprint.of(m.spec(), p, x, null);
            System.out.printf(Locale.ROOT,
                    "%s, pntk of %d × %s float32 examples with themselves, %d cores; tiled: %s%n",
                    spec, n, Shapes.str(perExample), cores, plan.describe());
            double[] sgemm = new double[rounds];
            double[] untiled = new double[rounds];
            double[] tiled = new double[rounds];
            long untiledPeak = 0;
            long tiledPeak = 0;
            for (int r = 0; r < rounds; r++) {
                sgemm[r] = sgemmRate(cores);
                Blas.setThreads(cores);
                long base = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                long t0 = System.nanoTime();
                try (Tensor k = ntk.method(plan.method()).kernel(kind, x, null)) {
                    untiled[r] = (System.nanoTime() - t0) / 1e9;
                }
                untiledPeak = Math.max(untiledPeak, Tensor.peakBytes() - base + x.bytes());
                Blas.setThreads(1);
                Tensor.resetPeakBytes();
                t0 = System.nanoTime();
                try (TileStore store = TileStore.create(out, plan, fp)) {
                    new TiledKernel(ntk, plan, x, null).run(store.finishedTiles(), store::write, null);
                    store.finish();
                }
                tiled[r] = (System.nanoTime() - t0) / 1e9;
                tiledPeak = Math.max(tiledPeak, Tensor.peakBytes() - base + x.bytes());
                System.out.printf(Locale.ROOT, "round %d: sgemm %.1f GFLOP/s; untiled %.2f s (%.1f GFLOP/s); "
                                + "tiled %.2f s (%.1f GFLOP/s)%n", r + 1, sgemm[r], untiled[r],
                        flops / untiled[r] / 1e9, tiled[r], flops / tiled[r] / 1e9);
            }
            double s = Timing.median(sgemm);
            double u = Timing.median(untiled);
            double t = Timing.median(tiled);
            System.out.printf(Locale.ROOT, "%nmedians of %d rounds: SGEMM %.1f GFLOP/s; untiled %.2f s, "
                            + "%.1f GFLOP/s = %.2f of SGEMM, peak %s; tiled %.2f s, %.1f GFLOP/s = %.2f of SGEMM, "
                            + "peak %s (budget %s); tiled / untiled time %.2f%n", rounds, s, u, flops / u / 1e9,
                    flops / u / 1e9 / s, CostModel.human(untiledPeak), t, flops / t / 1e9, flops / t / 1e9 / s,
                    CostModel.human(tiledPeak), CostModel.human(budget), t / u);
            p.close();
        }
    }

    /** Median GFLOP/s of 3 float32 2048³ GEMMs on {@code threads} BLAS threads. */
    static double sgemmRate(int threads) {
        Blas.setThreads(threads);
        return SgemmRate.measure(2048, 1, 3).medianGflops();
    }

    /** 123, 512m, 1g (powers of 1024). */
    static long bytes(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        int shift = t.endsWith("k") ? 10 : t.endsWith("m") ? 20 : t.endsWith("g") ? 30 : 0;
        return (long) (Double.parseDouble(shift == 0 ? t : t.substring(0, t.length() - 1)) * (1L << shift));
    }
}
