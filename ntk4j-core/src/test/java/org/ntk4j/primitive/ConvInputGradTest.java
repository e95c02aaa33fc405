package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The input gradient, tap by tap with no buffer for unit strides (col2im otherwise), against a direct nested
 * loop in float64: batches large enough that both GEMM orders of the direct path (rows of one image, or one
 * output position over the images), row caps and the split over cores are used; its FLOP rule against the number
 * of products the loop makes; its declared scratch; the stacked-cotangent backward pass of a grouped
 * convolution, which runs the same kernel group by group.
 */
class ConvInputGradTest {

    /** The products the reference loop makes (pairs of output position and tap that read an input element). */
    static long referenceProducts(ConvTest.Case c) {
        ConvTest.Reference r = new ConvTest.Reference(c);
        long count = 0;
        for (int io = 0; io < r.oh; io++) {
            for (int jo = 0; jo < r.ow; jo++) {
                for (int ik = 0; ik < r.kh; ik++) {
                    for (int jk = 0; jk < r.kw; jk++) {
                        int ih = io * r.sh - r.ph + ik * r.dh;
                        int iw = jo * r.sw - r.pw + jk * r.dw;
                        if (ih >= 0 && ih < r.h && iw >= 0 && iw < r.w) {
                            count++;
                        }
                    }
                }
            }
        }
        return count * r.n * r.cin * r.cout;
    }

    private static long phases(int k, int dil, int stride) {
        return java.util.stream.IntStream.range(0, k).map(t -> t * dil % stride).distinct().count();
    }

    static void check(ConvTest.Case c, long seed) {
        Convolution.Window win = new Convolution.Window(c.strides(), c.lo(), c.hi(), c.dil());
        try (Tensor dy = Tensor.randomNormal(DType.F64, seed, c.yShape());
             Tensor w = Tensor.randomNormal(DType.F64, seed + 1, c.wShape());
             Tensor dx = Convolution.inputGrad(dy, w, c.in(), win);
             Tensor dy32 = dy.to(DType.F32);
             Tensor w32 = w.to(DType.F32);
             Tensor dx32 = Convolution.inputGrad(dy32, w32, c.in(), win)) {
            double[] ref = ConvTest.refInputGrad(c, dy.toDoubleArray(), w.toDoubleArray());
            assertThat(dx.shape()).containsExactly(c.xShape());
            assertThat(ConvTest.relErr(dx.toDoubleArray(), ref)).as("f64 %s", c).isLessThan(1e-12);
            assertThat(ConvTest.relErr(dx32.toDoubleArray(), ref)).as("f32 %s", c).isLessThan(1e-4);
        }
        ConvInputGrad p = new ConvInputGrad(win, c.in());
        TensorType[] in = {new TensorType(DType.F64, c.yShape()), new TensorType(DType.F64, c.wShape())};
        TensorType out = p.outputType(in);
        boolean pointwise = c.kh() * c.kw() == 1 && c.sh() * c.sw() == 1 && c.ph() + c.pw() == 0
                && c.oh() == c.h() && c.ow() == c.w();
        // padded planes: (OH + ⌊(KH-1)·dh/sh⌋) × (OW + ⌊(KW-1)·dw/sw⌋) positions at most 8/5 × OH·OW, in integers
        // (1.6 · OH · OW in doubles can put a ratio of exactly 1.6 on the wrong side)
        long reachH = c.oh() + (c.kh() - 1L) * c.dh() / c.sh();
        long reachW = c.ow() + (c.kw() - 1L) * c.dw() / c.sw();
        boolean planes = !pointwise && 5 * reachH * reachW <= 8L * c.oh() * c.ow();
        // the planes themselves share the padding between rows and images: at most the reach, at least dy
        Convolution.Geometry g = geometry(c);
        long hp = g.planeH();
        long wp = g.planeW();
        assertThat(hp).as("plane height %s", c).isBetween((long) c.oh(), reachH);
        assertThat(wp).as("plane width %s", c).isBetween((long) c.ow(), reachW);
        // direct (no buffer, padding products skipped): not pointwise, unit strides, Cin·Cout·16 < 2^18
        boolean direct = !planes && !pointwise && c.sh() == 1 && c.sw() == 1
                && 16L * c.cin() * c.cout() < (1 << 18);
        int[] os = c.out();
        long positions = c.n() * (long) (c.d() == 1 ? os[0] : os[0] * os[1]);
        double products;
        long buffer;
        if (planes) {
            // per block of images, each tap one GEMM over the plane positions up to the last real output
            // dy's plane and one of dx's per stride phase that some tap writes (t·dil mod stride, per axis)
            // (dy's plane only where it is larger than dy: a 1×1 strided window uses dy itself); a block's planes
            // within PLANE_BLOCK_ELEMENTS, one block's planes per worker (a core, up to one per block)
            boolean padded = hp != c.oh() || wp != c.ow();
            long perImage = hp * wp * ((padded ? c.cout() : 0)
                    + phases(c.kh(), c.dh(), c.sh()) * phases(c.kw(), c.dw(), c.sw()) * c.cin());
            long block = Math.min(c.n(), Math.max(1, Convolution.PLANE_BLOCK_ELEMENTS / perImage));
            // past the last image's plane, the positions its GEMMs reach: the last output plus the largest shift
            long tail = Math.max(0, (reachH - 1) * wp + reachW - hp * wp);
            long rows = 0;
            long blocks = 0;
            for (long n0 = 0; n0 < c.n(); n0 += block) {
                long images = Math.min(block, c.n() - n0);
                rows += (images - 1) * hp * wp + (c.oh() - 1L) * wp + c.ow();
                blocks++;
            }
            products = (double) rows * c.kh() * c.kw() * c.cin() * c.cout();
            buffer = (blocks == 1 ? 1 : Math.min(blocks, Parallel.threads())) * (block * perImage + tail * c.cin());
        } else {
            products = direct ? referenceProducts(c) : (double) positions * c.kh() * c.kw() * c.cin() * c.cout();
            // otherwise the column buffer [images, OH·OW, KH·KW·Cin] of at most COLS_BUDGET elements
            long perImage = positions / c.n() * c.kh() * c.kw() * c.cin();
            long images = Math.min(c.n(), Math.max(1, Convolution.COLS_BUDGET / perImage));
            buffer = direct || pointwise ? 0 : images * perImage;
        }
        assertThat(p.flops(in, out)).as("flops %s", c).isEqualTo(2.0 * products);
        assertThat(p.workspaceBytes(in, out)).as("scratch %s", c).isEqualTo(buffer * 8);
        // and it is what the kernel allocates besides dx, measured
        try (Tensor dy = Tensor.randomNormal(DType.F64, seed, c.yShape());
             Tensor w = Tensor.randomNormal(DType.F64, seed + 1, c.wShape())) {
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Tensor dx = Convolution.inputGrad(dy, w, c.in(), win)) {
                assertThat(Tensor.peakBytes() - base).as("measured scratch %s", c)
                        .isEqualTo(8L * dx.size() + p.workspaceBytes(in, out));
            }
        }
    }

    /**
     * Random 1-D and 2-D cases, batch up to 12 (so rows of a GEMM are sometimes the output columns of one image
     * row, sometimes the images), strides 1..3, dilation 1..2, explicit padding 0..2 on each side.
     */
    @Property(tries = 150, seed = "20261204")
    void matchesTheNestedLoopReference(
            @ForAll @IntRange(min = 1, max = 2) int d,
            @ForAll @IntRange(min = 1, max = 12) int n,
            @ForAll @IntRange(min = 1, max = 4) int cin,
            @ForAll @IntRange(min = 1, max = 4) int cout,
            @ForAll @IntRange(min = 1, max = 9) int h,
            @ForAll @IntRange(min = 1, max = 9) int w,
            @ForAll @IntRange(min = 1, max = 3) int kh,
            @ForAll @IntRange(min = 1, max = 3) int kw,
            @ForAll @IntRange(min = 1, max = 3) int sh,
            @ForAll @IntRange(min = 1, max = 3) int sw,
            @ForAll @IntRange(min = 1, max = 2) int dh,
            @ForAll @IntRange(min = 1, max = 2) int dw,
            @ForAll @IntRange(min = 0, max = 2) int loH,
            @ForAll @IntRange(min = 0, max = 2) int hiH,
            @ForAll @IntRange(min = 0, max = 2) int loW,
            @ForAll @IntRange(min = 0, max = 2) int hiW,
            @ForAll @IntRange(min = 0, max = 1000) int seed) {
        int[] in = d == 1 ? new int[] {w} : new int[] {h, w};
        int[] k = d == 1 ? new int[] {kw} : new int[] {kh, kw};
        int[] s = d == 1 ? new int[] {sw} : new int[] {sh, sw};
        int[] dil = d == 1 ? new int[] {dw} : new int[] {dh, dw};
        int[] lo = d == 1 ? new int[] {loW} : new int[] {loH, loW};
        int[] hi = d == 1 ? new int[] {hiW} : new int[] {hiH, hiW};
        for (int i = 0; i < d; i++) { // grow the input until the dilated filter fits
            in[i] = Math.max(in[i], (k[i] - 1) * dil[i] + 1 - lo[i] - hi[i]);
        }
        check(new ConvTest.Case(d, n, in, cin, cout, k, s, lo, hi, dil), seed);
    }

    /**
     * A plane-to-output ratio of exactly 8/5 takes the padded-plane path (8 plane positions for 5 outputs), one
     * just above it does not.
     */
    @Test
    void aRatioOfExactlyEightFifthsTakesThePlanes() {
        ConvTest.Case at = new ConvTest.Case(1, 3, new int[] {5}, 2, 3, new int[] {4}, new int[] {1}, new int[] {1},
                new int[] {2}, new int[] {1});
        Convolution.Geometry g = geometry(at);
        assertThat(new int[] {g.reachW(), g.ow()}).containsExactly(8, 5);
        assertThat(path(at)).isEqualTo("planes");
        check(at, 7);
        ConvTest.Case above = new ConvTest.Case(1, 3, new int[] {5}, 2, 3, new int[] {5}, new int[] {1},
                new int[] {2}, new int[] {2}, new int[] {1});
        assertThat(new int[] {geometry(above).reachW(), geometry(above).ow()}).containsExactly(9, 5);
        assertThat(path(above)).isEqualTo("direct");
        check(above, 8);
    }

    /**
     * The planes share the zero padding between consecutive rows and images: a 3×3 SAME window on 16×16 images runs
     * on 17×17 planes (18×18 with each row's and image's own padding), a 2-dilated one on 18×18 (20×20); a VALID
     * window and a stride-2 one, whose planes have no padding to share, keep theirs. Each checked against the
     * nested loop over several blocks of images.
     */
    @Test
    void planesShareTheirPadding() {
        int[] one = {1, 1};
        int[] two = {2, 2};
        ConvTest.Case same = new ConvTest.Case(2, 21, new int[] {16, 16}, 32, 24, new int[] {3, 3}, one, one, one, one);
        ConvTest.Case dilated = new ConvTest.Case(2, 9, new int[] {16, 16}, 16, 16, new int[] {3, 3}, one, two, two,
                two);
        ConvTest.Case valid = new ConvTest.Case(2, 5, new int[] {16, 16}, 8, 8, new int[] {3, 3}, one,
                new int[] {0, 0}, new int[] {0, 0}, one);
        ConvTest.Case strided = new ConvTest.Case(2, 5, new int[] {16, 16}, 8, 8, new int[] {3, 3}, two, one, one,
                one);
        int[][] expected = {{17, 17, 18, 18}, {18, 18, 20, 20}, {16, 16, 16, 16}, {9, 9, 9, 9}};
        ConvTest.Case[] cases = {same, dilated, valid, strided};
        for (int i = 0; i < cases.length; i++) {
            Convolution.Geometry g = geometry(cases[i]);
            assertThat(new int[] {g.planeH(), g.planeW(), g.reachH(), g.reachW()}).as("%s", cases[i])
                    .containsExactly(expected[i]);
            check("planes", cases[i], 30 + i);
        }
        assertThat(geometry(same).planeBlocks()).isGreaterThan(1);
    }

    private static Convolution.Geometry geometry(ConvTest.Case c) {
        return Convolution.Geometry.of(new Convolution.Window(c.strides(), c.lo(), c.hi(), c.dil()), c.n(), c.in(),
                c.cin(), c.k(), c.cout());
    }

    /** The path {@link Convolution#inputGrad} takes for a case: planes, direct (tap by tap) or col2im. */
    private static String path(ConvTest.Case c) {
        Convolution.Geometry g = geometry(c);
        return g.isPointwise() ? "pointwise" : g.inputGradPlanes() ? "planes" : g.inputGradDirect() ? "direct"
                : "col2im";
    }

    /** A case, checked after asserting the path it takes. */
    private static void check(String expectedPath, ConvTest.Case c, long seed) {
        assertThat(path(c)).as("path of %s", c).isEqualTo(expectedPath);
        check(c, seed);
    }

    /**
     * Batches and channels large enough that the images are split across cores: tap by tap in both GEMM orders,
     * on planes in blocks of images shared out to the cores, through col2im.
     */
    @Test
    void largerCasesSplitAcrossCores() {
        int[] one = {1, 1};
        // tap by tap: 3×3 SAME stride 1 on small images (wide rows, the centre column merged over output rows; rows
        // by images), a dilated 1-D window
        check("direct", new ConvTest.Case(2, 24, new int[] {4, 9}, 16, 12, new int[] {3, 3}, one, one, one, one), 1);
        check("direct", new ConvTest.Case(2, 40, new int[] {4, 4}, 12, 16, new int[] {3, 3}, one, one, one, one), 2);
        check("direct", new ConvTest.Case(1, 64, new int[] {5}, 16, 16, new int[] {3}, new int[] {1}, new int[] {2},
                new int[] {0}, new int[] {2}), 5);
        // wide channels tap by tap: GEMMs cut at directGemmRows (26 rows for 100·100), by image rows, by images
        check("direct", new ConvTest.Case(2, 2, new int[] {3, 30}, 100, 100, new int[] {3, 3}, one, one, one, one),
                7);
        check("direct", new ConvTest.Case(2, 30, new int[] {3, 3}, 100, 100, new int[] {3, 3}, one, one, one, one),
                8);
        // padded planes: SAME (several blocks over the cores), VALID, lopsided and dilated padding, 1-D, stride 2 on
        // 7×7 (4×4 outputs on 5×5 planes), 1×1 stride 2, a 1-D case of blocks of one image (planes of 2·100,002
        // elements), the small cnn's stacked cotangents (160 images of 16×16×32: blocks of 10)
        check("planes", new ConvTest.Case(2, 24, new int[] {9, 9}, 16, 12, new int[] {3, 3}, one, one, one, one), 3);
        check("planes", new ConvTest.Case(2, 40, new int[] {7, 7}, 12, 16, new int[] {3, 3}, new int[] {2, 2}, one,
                one, one), 4);
        check("planes", new ConvTest.Case(2, 6, new int[] {30, 30}, 12, 12, new int[] {3, 3}, one, new int[] {2, 2},
                new int[] {2, 2}, new int[] {2, 2}), 9);
        check("planes", new ConvTest.Case(2, 30, new int[] {8, 8}, 16, 16, one, new int[] {2, 2}, new int[] {0, 0},
                new int[] {0, 0}, one), 6);
        check("planes", new ConvTest.Case(2, 3, new int[] {24, 24}, 5, 7, new int[] {3, 3}, one, one, one, one), 10);
        check("planes", new ConvTest.Case(2, 2, new int[] {30, 30}, 6, 4, new int[] {3, 3}, one, new int[] {0, 0},
                new int[] {0, 0}, one), 11);
        check("planes", new ConvTest.Case(2, 2, new int[] {30, 31}, 3, 5, new int[] {3, 2}, one, new int[] {2, 0},
                new int[] {0, 1}, one), 12);
        check("planes", new ConvTest.Case(2, 2, new int[] {48, 48}, 4, 4, new int[] {3, 3}, one, new int[] {2, 2},
                new int[] {2, 2}, new int[] {2, 2}), 13);
        check("planes", new ConvTest.Case(1, 5, new int[] {64}, 8, 6, new int[] {5}, new int[] {1}, new int[] {2},
                new int[] {2}, new int[] {1}), 14);
        check("planes", new ConvTest.Case(1, 30, new int[] {100_000}, 1, 1, new int[] {3}, new int[] {1},
                new int[] {1}, new int[] {1}, new int[] {1}), 15);
        check("planes", new ConvTest.Case(2, 160, new int[] {16, 16}, 32, 32, new int[] {3, 3}, one, one, one, one),
                20);
        // strided planes (sh·sw phase planes): 1×1 and 3×3 stride 2, stride 3 with dilation, uneven strides, an input
        // whose last rows and columns no window reaches
        check("planes", new ConvTest.Case(2, 3, new int[] {28, 28}, 6, 5, one, new int[] {2, 2}, new int[] {0, 0},
                new int[] {0, 0}, one), 16);
        check("planes", new ConvTest.Case(2, 2, new int[] {56, 56}, 4, 6, new int[] {3, 3}, new int[] {2, 2}, one,
                one, one), 17);
        check("planes", new ConvTest.Case(2, 2, new int[] {61, 58}, 3, 4, new int[] {3, 3}, new int[] {3, 2},
                new int[] {1, 0}, new int[] {2, 1}, new int[] {2, 1}), 18);
        check("planes", new ConvTest.Case(1, 3, new int[] {203}, 5, 3, new int[] {3}, new int[] {2}, new int[] {0},
                new int[] {0}, new int[] {1}), 19);
        // col2im: too wide for the direct path on small images, and stride 2 on 5×5 (3×3 outputs on 4×4 planes)
        check("col2im", new ConvTest.Case(2, 3, new int[] {5, 5}, 128, 130, new int[] {3, 3}, one, one, one, one),
                21);
        check("col2im", new ConvTest.Case(2, 12, new int[] {5, 5}, 8, 8, new int[] {3, 3}, new int[] {2, 2}, one,
                one, one), 22);
    }

    /** A pointwise (1×1, stride 1, no padding) input gradient stays one GEMM: same values, all products. */
    @Test
    void pointwise() {
        int[] one = {1, 1};
        int[] zero = {0, 0};
        check(new ConvTest.Case(2, 5, new int[] {4, 3}, 6, 7, one, one, zero, zero, one), 6);
    }

    /**
     * The backward pass of a grouped convolution with K = 3 stacked cotangents runs the tap-by-tap kernel once
     * per group; x̄ against a direct loop over groups.
     */
    @Property(tries = 30, seed = "20261205")
    void groupedStackedCotangentsMatchTheDirectLoop(
            @ForAll @IntRange(min = 1, max = 6) int n,
            @ForAll @IntRange(min = 2, max = 7) int size,
            @ForAll @IntRange(min = 1, max = 3) int groups,
            @ForAll @IntRange(min = 1, max = 3) int cig,
            @ForAll @IntRange(min = 1, max = 3) int cog,
            @ForAll @IntRange(min = 1, max = 3) int k,
            @ForAll @IntRange(min = 1, max = 2) int stride,
            @ForAll @IntRange(min = 0, max = 1) int pad,
            @ForAll @IntRange(min = 0, max = 1000) int seed) {
        int h = Math.max(size, k);
        int wd = h + 1;
        int cin = groups * cig;
        int cout = groups * cog;
        int[] xs = {n, h, wd, cin};
        int[] ws = {k, k, cig, cout};
        Graph g = Graph.trace(List.of(new TensorType(DType.F64, xs), new TensorType(DType.F64, ws)),
                v -> new Var[] {v[0].conv(v[1], new int[] {stride, stride}, new int[][] {{pad, pad}, {pad, pad}},
                        new int[] {1, 1}, groups)});
        int stack = 3;
        Graph vjp = Vjp.of(g, stack, new boolean[] {true, false});
        int[] ys = g.outputs().get(0).shape();
        int oh = ys[1];
        int ow = ys[2];
        int[] cs = {stack, n, oh, ow, cout};
        try (Tensor x = Tensor.randomNormal(DType.F64, seed, xs);
             Tensor w = Tensor.randomNormal(DType.F64, seed + 1, ws);
             Tensor c = Tensor.randomNormal(DType.F64, seed + 2, cs)) {
            Tensor[] r = vjp.evaluate(x, w, c);
            try {
                double[] wv = w.toDoubleArray();
                double[] cv = c.toDoubleArray();
                double[] ref = new double[stack * n * h * wd * cin];
                for (int s = 0; s < stack; s++) {
                    for (int b = 0; b < n; b++) {
                        for (int io = 0; io < oh; io++) {
                            for (int jo = 0; jo < ow; jo++) {
                                for (int ik = 0; ik < k; ik++) {
                                    for (int jk = 0; jk < k; jk++) {
                                        int ih = io * stride - pad + ik;
                                        int iw = jo * stride - pad + jk;
                                        if (ih < 0 || ih >= h || iw < 0 || iw >= wd) {
                                            continue;
                                        }
                                        for (int co = 0; co < cout; co++) {
                                            int grp = co / cog;
                                            double ct = cv[(((s * n + b) * oh + io) * ow + jo) * cout + co];
                                            for (int ci = 0; ci < cig; ci++) {
                                                ref[(((s * n + b) * h + ih) * wd + iw) * cin + grp * cig + ci] +=
                                                        ct * wv[((ik * k + jk) * cig + ci) * cout + co];
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                Tensor xbar = r[r.length - 1];
                assertThat(xbar.shape()).containsExactly(stack, n, h, wd, cin);
                assertThat(ConvTest.relErr(xbar.toDoubleArray(), ref)).isLessThan(1e-12);
            } finally {
                ConvTest.closeAll(r);
            }
        }
    }

    /** Forward and filter gradient declare their im2col buffer, pointwise ones none; grouped adds its copies. */
    @Test
    void declaredScratch() {
        Convolution.Window same = Convolution.Window.of(new int[] {1, 1}, new int[][] {{1, 1}, {1, 1}},
                new int[] {1, 1});
        TensorType x = new TensorType(DType.F32, 4, 8, 8, 6);
        TensorType w = new TensorType(DType.F32, 3, 3, 6, 10);
        TensorType y = new TensorType(DType.F32, 4, 8, 8, 10);
        long cols = 4L * 8 * 8 * 3 * 3 * 6 * 4; // [N·OH·OW, KH·KW·Cin] float32, within one chunk
        assertThat(new Conv(same).workspaceBytes(new TensorType[] {x, w}, y)).isEqualTo(cols);
        assertThat(new ConvFilterGrad(same, new int[] {3, 3}).workspaceBytes(new TensorType[] {x, y}, w))
                .isEqualTo(cols);
        Convolution.Window pointwise = Convolution.Window.of(new int[] {1, 1}, new int[][] {{0, 0}, {0, 0}},
                new int[] {1, 1});
        TensorType w1 = new TensorType(DType.F32, 1, 1, 6, 10);
        assertThat(new Conv(pointwise).workspaceBytes(new TensorType[] {x, w1}, y)).isZero();
        TensorType wg = new TensorType(DType.F32, 3, 3, 3, 10);
        long groupCols = 4L * 8 * 8 * 3 * 3 * 3 * 4;
        long copies = (y.size() + x.size() / 2 + wg.size() / 2) * 4L;
        assertThat(new GroupedConv(same, 2).workspaceBytes(new TensorType[] {x, wg}, y))
                .isEqualTo(copies + groupCols);
    }
}
