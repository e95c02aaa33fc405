package org.ntk4j.bench;

import java.util.Locale;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ntk4j bench conv [--reps R]}: the convolution input gradient (the transposed convolution of the
 * stacked-cotangent backward pass) as ntk4j computes it ({@link Convolution#inputGrad}: one GEMM per filter tap
 * over zero-padded planes where {@link Convolution.Geometry#inputGradPlanes} holds, tap by tap with GEMMs into dx
 * and no buffer where {@link Convolution.Geometry#inputGradDirect} holds, col2im otherwise), against the
 * im2col-era evaluation {@code col2im(dy · Wᵀ)} rebuilt here
 * from the same public pieces (one GEMM per chunk of images into a {@code [rows, KH·KW·Cin]} buffer of at most
 * {@link Convolution#COLS_BUDGET} elements, then {@link Convolution#col2im}). Both run interleaved in one JVM,
 * float32, on the same tensors; the report gives the medians, their ratio, the column buffer the old evaluation
 * allocated per call less the scratch of this build's path (the planes' scratch is bounded like the column
 * buffer, so it saves little or nothing), the path taken, and the largest relative difference of the two
 * results.
 */
final class ConvBench {
    private ConvBench() {
    }

    /** A shape: dy {@code [n, oh, ow, cout]} through a {@code k×k} filter from {@code cin} channels. */
    private record Shape(String name, int n, int h, int w, int cin, int cout, int k, int stride, int pad) {
    }

    private static final Shape[] SHAPES = {
        new Shape("cnn(depth=3,channels=32) 16x16, N=16, K=10: 3x3 SAME", 160, 16, 16, 32, 32, 3, 1, 1),
        new Shape("cnn(depth=3,channels=128) 8x8, N=16, K=10: 3x3 SAME", 160, 8, 8, 128, 128, 3, 1, 1),
        new Shape("ResNet-18 layer1 conv 56x56x64, 3x3 s1, batch 16", 16, 56, 56, 64, 64, 3, 1, 1),
        new Shape("ResNet-18 layer2 conv 28x28x128, 3x3 s1, batch 16", 16, 28, 28, 128, 128, 3, 1, 1),
        new Shape("ResNet-18 layer3 conv 14x14x256, 3x3 s1, batch 16", 16, 14, 14, 256, 256, 3, 1, 1),
        new Shape("ResNet-18 layer2.0.conv1 56x56x64 -> 128, 3x3 s2, batch 16", 16, 56, 56, 64, 128, 3, 2, 1),
        new Shape("ResNet-18 layer2.0 downsample 1x1 s2 64 -> 128, batch 16", 16, 56, 56, 64, 128, 1, 2, 0),
    };

    /** The command line: {@code --reps R}, checked before the run. */
    @Command(name = "ntk4j bench conv", sortOptions = false, abbreviateSynopsis = true,
            description = {"conv_input_grad as this build computes it against the im2col-era col2im(dy . W^T), cnn "
                + "and ResNet-18 shapes, float32, interleaved; printed, no file written.", ""})
    static final class Options implements BenchCli.Bench {
        @Option(names = "--reps", paramLabel = "R", description = "timed calls of each, interleaved, after 3 warm-up "
                + "calls (default ${DEFAULT-VALUE})")
        int reps = 15;
        @Mixin
        BenchCli.Help help = new BenchCli.Help();

        @Override
        public void check(CommandLine.ParseResult given) {
            BenchCli.positive("--reps", reps);
        }

        @Override
        public int run(String[] args) {
            ConvBench.run(reps);
            return 0;
        }
    }

    static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private static void run(int reps) {
        System.out.printf(Locale.ROOT, "# conv_input_grad: this build vs col2im(dy . W^T), float32, %s, "
                + "load %s, %s, median of %d%n", Machine.cpuModel(), Machine.loadAverage(), Machine.now(), reps);
        System.out.println("| shape | dy | col2im ms | this build ms | speed-up | path | column buffer saved | max rel"
                + " diff |");
        System.out.println("|---|---|---:|---:|---:|---|---:|---:|");
        for (Shape s : SHAPES) {
            run(s, reps);
        }
    }

    private static void run(Shape s, int reps) {
        Convolution.Window win = Convolution.Window.of(new int[] {s.stride, s.stride},
                new int[][] {{s.pad, s.pad}, {s.pad, s.pad}}, new int[] {1, 1});
        int[] in = {s.h, s.w};
        Convolution.Geometry g = Convolution.Geometry.of(win, s.n, in, s.cin, new int[] {s.k, s.k}, s.cout);
        try (Tensor dy = Tensor.randomNormal(DType.F32, 1, s.n, g.oh(), g.ow(), s.cout);
             Tensor w = Tensor.randomNormal(DType.F32, 2, s.k, s.k, s.cin, s.cout)) {
            double[] oldT = new double[reps];
            double[] newT = new double[reps];
            for (int i = 0; i < 3; i++) { // warm-up
                oldInputGrad(dy, w, g).close();
                Convolution.inputGrad(dy, w, in, win).close();
            }
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                Tensor a = oldInputGrad(dy, w, g);
                long t1 = System.nanoTime();
                Tensor b = Convolution.inputGrad(dy, w, in, win);
                long t2 = System.nanoTime();
                a.close();
                b.close();
                oldT[i] = (t1 - t0) / 1e6;
                newT[i] = (t2 - t1) / 1e6;
            }
            double diff;
            try (Tensor a = oldInputGrad(dy, w, g); Tensor b = Convolution.inputGrad(dy, w, in, win)) {
                diff = relDiff(a.toDoubleArray(), b.toDoubleArray());
            }
            double o = Timing.median(oldT);
            double n = Timing.median(newT);
            long bytes = ((g.isPointwise() ? 0 : (long) g.chunkImages() * g.outputPositions() * g.rowLength())
                    - g.inputGradBufferElements()) * 4;
            String path = g.inputGradPlanes() ? "padded planes" : g.inputGradDirect() ? "tap by tap"
                    : g.isPointwise() ? "one GEMM" : "col2im";
            System.out.printf(Locale.ROOT, "| %s | [%d, %d, %d, %d] | %.2f | %.2f | %.2fx | %s | %.1f MiB | %.1e |%n",
                    s.name, s.n, g.oh(), g.ow(), s.cout, o, n, o / n, path, bytes / 1048576.0, diff);
        }
    }

    /** The im2col-era evaluation: per chunk of images, cols = dy · Wᵀ (one GEMM), then col2im into dx. */
    static Tensor oldInputGrad(Tensor dy, Tensor w, Convolution.Geometry g) {
        int[] dxShape = {g.n(), g.h(), g.w(), g.cin()};
        Tensor dx = Tensor.empty(dy.dtype(), dxShape);
        if (g.isPointwise()) {
            Blas.gemm(false, true, g.n() * g.outputPositions(), g.cin(), g.cout(), 1.0, dy, 0, g.cout(), w, 0,
                    g.cout(), 0.0, dx, 0, g.cin());
            return dx;
        }
        int chunk = g.chunkImages();
        int ohw = g.outputPositions();
        int rowLen = g.rowLength();
        try (Tensor cols = Tensor.empty(dy.dtype(), chunk * ohw, rowLen)) {
            for (int n0 = 0; n0 < g.n(); n0 += chunk) {
                int n1 = Math.min(g.n(), n0 + chunk);
                Blas.gemm(false, true, (n1 - n0) * ohw, rowLen, g.cout(), 1.0, dy, (long) n0 * ohw * g.cout(),
                        g.cout(), w, 0, g.cout(), 0.0, cols, 0, rowLen);
                Convolution.col2im(cols, g, n0, n1, dx);
            }
        }
        return dx;
    }

    private static double relDiff(double[] a, double[] b) {
        double e = 0;
        double m = 1e-30;
        for (int i = 0; i < a.length; i++) {
            e = Math.max(e, Math.abs(a[i] - b[i]));
            m = Math.max(m, Math.abs(b[i]));
        }
        return e / m;
    }
}
