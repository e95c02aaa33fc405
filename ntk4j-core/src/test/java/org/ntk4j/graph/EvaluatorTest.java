package org.ntk4j.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.Fixtures.assertValues;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.primitive.Primitive;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link Evaluator}: intermediates are closed after their last use (bytes counted by {@link Tensor#liveBytes()};
 * storage the pool keeps for reuse is not a live tensor), outputs are owned by the caller and independent of each
 * other and of the arguments, and nothing leaks when a primitive fails.
 */
class EvaluatorTest {
    private static final int N = 1 << 20; // 8 MiB per f64 value
    private static final long VALUE_BYTES = 8L * N;
    private static final long SLACK = 1 << 20;

    /** The identity, which records the off-heap bytes in use when it runs (or fails, if asked to). */
    private static final class Probe implements Primitive {
        private final boolean fail;
        long bytesSeen = -1;

        Probe(boolean fail) {
            this.fail = fail;
        }

        @Override
        public String name() {
            return "probe";
        }

        @Override
        public TensorType outputType(TensorType... in) {
            return in[0];
        }

        @Override
        public Tensor evaluate(Tensor... in) {
            bytesSeen = Tensor.liveBytes();
            if (fail) {
                throw new IllegalArgumentException("probe failed on purpose");
            }
            return in[0].copy();
        }

        @Override
        public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Var[] vjp(Var[] primals, Var out, Var cotangent, boolean[] needed) {
            throw new UnsupportedOperationException();
        }
    }

    private static Graph chain(Probe probe) {
        // x -> exp -> sin -> cos -> probe -> tanh: each intermediate is read once, by the next equation
        return Fixtures.trace1(v -> v[0].builder().apply(probe, v[0].exp().sin().cos()).tanh(),
                new TensorType(DType.F64, N));
    }

    @Test
    void intermediatesAreFreedAfterTheirLastUseAndOutputsStayValid() {
        Probe probe = new Probe(false);
        Graph g = chain(probe);
        try (Tensor x = Tensor.full(DType.F64, 0.25, N)) {
            long before = Tensor.liveBytes();
            Tensor[] out = g.evaluate(x);
            long after = Tensor.liveBytes();
            // while probe ran, only its operand (cos) was alive besides the argument: not exp or sin as well
            assertThat(probe.bytesSeen - before).isLessThanOrEqualTo(VALUE_BYTES + SLACK);
            // afterwards only the output is left
            assertThat(after - before).isLessThanOrEqualTo(VALUE_BYTES + SLACK);
            assertThat(x.isClosed()).isFalse();
            double expected = Math.tanh(Math.cos(Math.sin(Math.exp(0.25))));
            assertThat(out[0].getFlat(0)).isEqualTo(expected);
            assertThat(out[0].getFlat(N - 1)).isEqualTo(expected);
            out[0].close();
            assertThat(Tensor.liveBytes() - before).isLessThanOrEqualTo(SLACK);
        }
    }

    @Test
    void valuesReadLaterStayAliveAndUnusedValuesAreDroppedAtOnce() {
        Probe probe = new Probe(false);
        Graph g = Fixtures.trace1(v -> {
            Var a = v[0].exp();
            v[0].sin(); // computed, never read
            Var b = v[0].builder().apply(probe, a.cos());
            return b.add(a); // a is read again after probe
        }, new TensorType(DType.F64, N));
        try (Tensor x = Tensor.full(DType.F64, 0.5, N)) {
            long before = Tensor.liveBytes();
            Tensor[] out = g.evaluate(x);
            // alive at probe: a and cos(a); the unused sin was freed as soon as it was computed
            assertThat(probe.bytesSeen - before).isBetween(2 * VALUE_BYTES - SLACK, 2 * VALUE_BYTES + SLACK);
            assertThat(out[0].getFlat(7)).isEqualTo(Math.cos(Math.exp(0.5)) + Math.exp(0.5));
            out[0].close();
            assertThat(Tensor.liveBytes() - before).isLessThanOrEqualTo(SLACK);
        }
    }

    @Test
    void aFailingPrimitiveLeaksNothingAndNamesTheEquation() {
        Probe probe = new Probe(true);
        Graph g = chain(probe);
        try (Tensor x = Tensor.full(DType.F64, 0.25, N)) {
            long before = Tensor.liveBytes();
            assertThatThrownBy(() -> g.evaluate(x)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("evaluating ").hasMessageContaining("= probe ")
                    .hasMessageContaining("probe failed on purpose");
            assertThat(Tensor.liveBytes() - before).isLessThanOrEqualTo(SLACK);
            assertThat(x.isClosed()).isFalse();
        }
    }

    @Test
    void outputsAreIndependentCopiesWhereTheyAlias() {
        Tensor c = Fixtures.f64(d(10, 20), 2);
        Graph g = Graph.trace(List.of(new TensorType(DType.F64, 2)), v -> {
            Var y = v[0].mul(2.0);
            Var k = v[0].builder().constant(c);
            // y twice, the input itself, a constant, and y read again by a later equation
            return new Var[] {y, y, v[0], k, y.add(k)};
        });
        try (Tensor x = Fixtures.f64(d(1, 2), 2)) {
            Tensor[] out = g.evaluate(x);
            assertThat(out).hasSize(5);
            for (int i = 0; i < out.length; i++) {
                for (int j = i + 1; j < out.length; j++) {
                    assertThat(out[i]).isNotSameAs(out[j]);
                }
                assertThat(out[i]).isNotSameAs(x).isNotSameAs(c);
            }
            assertValues(out[0], s(2), d(2, 4), 0);
            assertValues(out[4], s(2), d(12, 24), 0);
            out[0].close();
            out[2].close();
            out[3].close();
            // closing one copy touches neither the others, nor the argument, nor the graph's constant
            assertValues(out[1], s(2), d(2, 4), 0);
            assertValues(x, s(2), d(1, 2), 0);
            assertValues(c, s(2), d(10, 20), 0);
            out[1].setFlat(0, -1);
            assertValues(out[4], s(2), d(12, 24), 0);
            Fixtures.closeAll(out);
            // the graph can run again: its constant is intact
            Tensor[] again = g.evaluate(x);
            assertValues(again[3], s(2), d(10, 20), 0);
            Fixtures.closeAll(again);
        }
        c.close();
    }

    /** A graph listing outputs again lists each once after distinctOutputs, with the same values; else it is itself. */
    @Test
    void distinctOutputsListEachValueOnceWhereItFirstAppears() {
        Graph g = Graph.trace(List.of(new TensorType(DType.F64, 2)), v -> {
            Var y = v[0].mul(2.0);
            return new Var[] {y, v[0], y, y.add(v[0]), v[0]};
        });
        Graph once = g.distinctOutputs();
        assertThat(once.outputs()).containsExactly(g.outputs().get(0), g.outputs().get(1), g.outputs().get(3));
        assertThat(once.equations()).isEqualTo(g.equations());
        assertThat(once.inputs()).isEqualTo(g.inputs());
        assertThat(once.distinctOutputs()).isSameAs(once);
        try (Tensor x = Fixtures.f64(d(1, 2), 2)) {
            Tensor[] out = once.evaluate(x);
            assertValues(out[0], s(2), d(2, 4), 0);
            assertValues(out[1], s(2), d(1, 2), 0);
            assertValues(out[2], s(2), d(3, 6), 0);
            Fixtures.closeAll(out);
        }
    }

    /**
     * withOutputs appends intermediate values (and an input) not yet returned, each once, keeps the equations, and
     * refuses a variable of another graph by name.
     */
    @Test
    void withOutputsReturnsIntermediatesToo() {
        Var[] inner = new Var[2];
        Graph g = Graph.trace(List.of(new TensorType(DType.F64, 2)), v -> {
            inner[0] = v[0].mul(2.0);
            inner[1] = inner[0].exp();
            return new Var[] {inner[1].add(1.0)};
        });
        Graph more = g.withOutputs(List.of(inner[0], inner[1], inner[0], g.outputs().get(0), g.inputs().get(0)));
        assertThat(more.outputs()).containsExactly(g.outputs().get(0), inner[0], inner[1], g.inputs().get(0));
        assertThat(more.equations()).isEqualTo(g.equations());
        assertThat(more.withOutputs(List.of(inner[1]))).isSameAs(more);
        try (Tensor x = Fixtures.f64(d(1, 2), 2)) {
            Tensor[] out = more.evaluate(x);
            assertValues(out[1], s(2), d(2, 4), 0);
            assertValues(out[2], s(2), d(Math.exp(2), Math.exp(4)), 0);
            assertValues(out[3], s(2), d(1, 2), 0);
            Fixtures.closeAll(out);
        }
        Graph other = Graph.trace(List.of(new TensorType(DType.F64, 2)), v -> new Var[] {v[0].neg()});
        assertThatThrownBy(() -> g.withOutputs(other.outputs())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("withOutputs").hasMessageContaining("not a value of this graph");
    }

    @Test
    void aGraphWithoutEquations() {
        Graph g = Graph.trace(List.of(new TensorType(DType.F32, 3)), v -> new Var[] {v[0]});
        try (Tensor x = Fixtures.f32(d(1, 2, 3), 3)) {
            Tensor[] out = g.evaluate(x);
            assertThat(out[0]).isNotSameAs(x);
            assertValues(out[0], s(3), d(1, 2, 3), 0);
            Fixtures.closeAll(out);
            assertThat(x.isClosed()).isFalse();
        }
    }

    @Test
    void repeatedRunsDoNotAccumulateMemory() {
        Graph g = Fixtures.trace1(v -> v[0].matmul(v[1]).tanh().sum(1), new TensorType(DType.F32, 256, 128),
                new TensorType(DType.F32, 128, 256));
        try (Tensor a = Tensor.randomNormal(DType.F32, 1, 256, 128);
             Tensor b = Tensor.randomNormal(DType.F32, 2, 128, 256)) {
            long before = Tensor.liveBytes();
            for (int i = 0; i < 20; i++) {
                Fixtures.eval1(g, a, b).close();
            }
            assertThat(Tensor.liveBytes() - before).isLessThanOrEqualTo(SLACK);
        }
    }

    /**
     * A reshape of a value read there for the last time takes over its storage instead of copying it, and the
     * memory model ({@link GraphCost#peakBytes}) predicts exactly the peak measured; a value read again later is
     * copied, and predicted so.
     */
    @Test
    void aReshapeOfAValueReadForTheLastTimeMovesItsStorage() {
        // x -> a = exp(x) -> r = reshape(a) -> sum over pairs: at the reshape x and r alone (2 values, not 3)
        Graph moved = Fixtures.trace1(v -> v[0].exp().reshape(N / 2, 2).sum(1), new TensorType(DType.F64, N));
        // the same, with a read again after the reshape: copied, so x, a and r at once (3 values)
        Graph copied = Fixtures.trace1(v -> {
            Var a = v[0].exp();
            return a.reshape(N / 2, 2).sum(1).add(a.reshape(N / 2, 2).sum(1));
        }, new TensorType(DType.F64, N));
        try (Tensor x = Tensor.full(DType.F64, 0.5, N)) {
            for (Graph g : new Graph[] {moved, copied}) {
                long before = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                Tensor[] out = g.evaluate(x);
                long measured = Tensor.peakBytes() - before + VALUE_BYTES;
                double expected = (g == moved ? 1 : 2) * 2 * Math.exp(0.5);
                assertThat(out[0].getFlat(0)).isEqualTo(expected);
                assertThat(out[0].getFlat(N / 2 - 1)).isEqualTo(expected);
                Fixtures.closeAll(out);
                assertThat(measured).as("measured against the model").isEqualTo(GraphCost.peakBytes(g));
                if (g == moved) {
                    // exp: x + a; the reshape moves a; the sum adds half a value
                    assertThat(measured).isEqualTo(2 * VALUE_BYTES + VALUE_BYTES / 2);
                } else {
                    assertThat(measured).isGreaterThanOrEqualTo(3 * VALUE_BYTES);
                }
                assertThat(x.isClosed()).isFalse();
                assertThat(Tensor.liveBytes() - before).isLessThanOrEqualTo(SLACK);
            }
        }
    }

    /**
     * A reshape of a value that outlives the run — an argument (twice, a view of a view) or a graph output — is a
     * read view of its storage: no bytes (measured = the model's peak), the results right, an output that is a view
     * handed out as a copy of its own (writing one output leaves the other as it was), nothing left behind.
     */
    @Test
    void aReshapeOfAValueThatOutlivesTheRunIsAView() {
        // x -> reshape -> reshape -> sum over pairs: x and the sum's half value only
        Graph ofArgument = Fixtures.trace1(v -> v[0].reshape(N / 2, 2).reshape(N).reshape(N / 2, 2).sum(1),
                new TensorType(DType.F64, N));
        // a = exp(x) returned, and its reshape returned too
        Graph ofOutput = Graph.trace(java.util.List.of(new TensorType(DType.F64, N)), v -> {
            Var a = v[0].exp();
            return new Var[] {a, a.reshape(N / 2, 2), a.reshape(N / 2, 2).sum(1)};
        });
        try (Tensor x = Tensor.full(DType.F64, 0.5, N)) {
            long before = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            Tensor[] out = ofArgument.evaluate(x);
            assertThat(Tensor.peakBytes() - before + VALUE_BYTES).isEqualTo(GraphCost.peakBytes(ofArgument))
                    .isEqualTo(VALUE_BYTES + VALUE_BYTES / 2);
            assertThat(out[0].getFlat(N / 2 - 1)).isEqualTo(1.0);
            Fixtures.closeAll(out);

            Tensor.resetPeakBytes();
            out = ofOutput.evaluate(x);
            // x, a, the sum's half value and the view's copy, made when the outputs are handed out as an argument's
            // is: the model counts that copy too (it left it out before 2026-12-06)
            assertThat(Tensor.peakBytes() - before + VALUE_BYTES).isEqualTo(GraphCost.peakBytes(ofOutput))
                    .isEqualTo(3 * VALUE_BYTES + VALUE_BYTES / 2);
            assertThat(out[1].shape()).containsExactly(N / 2, 2);
            assertThat(out[1].getFlat(3)).isEqualTo(Math.exp(0.5));
            assertThat(out[2].getFlat(0)).isEqualTo(2 * Math.exp(0.5));
            out[0].setFlat(3, -1.0);
            assertThat(out[1].getFlat(3)).as("the reshaped output is its own copy").isEqualTo(Math.exp(0.5));
            Fixtures.closeAll(out);
            assertThat(x.isClosed()).isFalse();
            assertThat(x.getFlat(3)).isEqualTo(0.5);
            assertThat(Tensor.liveBytes() - before).isLessThanOrEqualTo(SLACK);
        }
    }
}
