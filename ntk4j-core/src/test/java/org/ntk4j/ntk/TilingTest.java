package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Jacobian contraction and NTK-vector products tile their work where one tensor would pass 2^31 - 1 bytes. With
 * the limit lowered, the tiled paths must give the kernel of the untiled ones, for every axis semantics, and the
 * cost model must follow them.
 */
class TilingTest {
    static Stream<Object[]> cases() {
        int[][][] axes = {
            {{}, {}}, {{-1}, {}}, {{}, {0}}, {{-1}, {0}}, {{0}, {}}, {{0, 1}, {}}, {{}, {1}}};
        Stream.Builder<Object[]> b = Stream.builder();
        // fcn: dense weights, tiled over chunks of fan-in rows; cnn: conv filters, tiled over examples
        for (String model : new String[] {"fcn(depth=2,width=24,out=3)|20", "cnn(depth=2,channels=3,out=2)|4,4,1"}) {
            for (int[][] a : axes) {
                b.add(new Object[] {model, a[0], a[1]});
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} trace {1} diagonal {2}")
    @MethodSource("cases")
    void tiledKernelsEqualUntiled(String model, int[] trace, int[] diagonal) {
        Model m = Zoo.parse(model.substring(0, model.indexOf('|')));
        int[] in = java.util.Arrays.stream(model.substring(model.indexOf('|') + 1).split(","))
                .mapToInt(Integer::parseInt).toArray();
        Params p = m.init(5, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(7, in));
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(7, in));
        for (Tensor second : new Tensor[] {null, x2}) {
            EmpiricalNtk base = EmpiricalNtk.of(m, p).traceAxes(trace).diagonalAxes(diagonal);
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS}) {
                try (Tensor whole = base.method(method).ntk(x1, second)) {
                    // 3 KiB: the fcn's weight Jacobians go over chunks of one fan-in row (7 × 3 × 24 × 8 bytes
                    // each), the cnn's 3×3×3×3 filter over tiles of 2 examples (2 × 81 × 8 bytes each), and
                    // every basis vector's weight cotangent over tiles of a few vectors
                    for (long limit : new long[] {3 << 10, 20 << 10}) {
                        try (Tensor tiled = base.method(method).tileBytes(limit).ntk(x1, second)) {
                            assertThat(tiled.shape()).containsExactly(whole.shape());
                            assertThat(EmpiricalNtkTest.relativeError(tiled, whole))
                                    .as("%s, x2 %s, tiles of %d bytes", method, second == null ? "= x1" : "given",
                                            limit)
                                    .isLessThan(1e-13);
                        }
                    }
                }
            }
        }
    }

    @Test
    void tilesAreNearEqualAndWithinTheLimit() {
        assertThat(Tiles.split(16, 100, 1000)).containsExactly(0, 8, 16);
        assertThat(Tiles.split(16, 100, 1600)).containsExactly(0, 16);
        assertThat(Tiles.split(128, 67_108_864L, Tiles.MAX_TENSOR_BYTES)).hasSize(6); // 31 fit: 5 tiles of 25-26
        assertThat(Tiles.split(5, 1000, 10)).containsExactly(0, 1, 2, 3, 4, 5);
        for (int n = 1; n < 40; n++) {
            for (long per = 1; per < 50; per += 7) {
                int[] b = Tiles.split(n, per, 100);
                assertThat(b[0]).isZero();
                assertThat(b[b.length - 1]).isEqualTo(n);
                for (int i = 0; i < Tiles.count(b); i++) {
                    assertThat(Tiles.size(b, i)).isPositive();
                    assertThat(Tiles.size(b, i) * per).isLessThanOrEqualTo(Math.max(100, per));
                }
            }
        }
    }

    /** The memory model follows the tiles: its prediction stays within 20% of the measured peak. */
    @Test
    void costModelFollowsTheTiles() {
        Model m = Zoo.parse("fcn(depth=2,width=256,out=10)");
        int[] in = {128};
        Params p = m.init(1, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 2, 24, 128);
        long limit = 4L << 20; // a weight's Jacobian is 24 × 10 × 65536 × 8 = 120 MiB: tiles of 1 or 2 examples
        for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS}) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(method).tileBytes(limit);
            CostModel.Estimate e = ntk.costModel(24, 0, in, DType.F64).estimate(method);
            CostModel.Estimate untiled = EmpiricalNtk.of(m, p).traceAxes().costModel(24, 0, in, DType.F64)
                    .estimate(method);
            assertThat(e.note()).contains("tiles");
            // the same work, plus a forward pass per tile for NTK-vector products (here 30 tiles of 8 vectors)
            assertThat(e.flops() / untiled.flops()).as("%s flops, tiled vs untiled", method).isBetween(1.0, 1.1);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Tensor k = ntk.ntk(x1, null)) {
                long measured = Tensor.peakBytes() - base + m.paramSpecs(in).stream()
                        .mapToLong(s -> 8L * s.size()).sum() + 8L * Shapes.size(x1.shape());
                assertThat((double) e.peakBytes() / measured).as("%s: predicted %d, measured %d", method,
                        e.peakBytes(), measured).isBetween(0.8, 1.2);
                assertThat(e.peakBytes()).isLessThan(untiled.peakBytes());
            }
        }
    }
}
