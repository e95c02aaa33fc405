package org.ntk4j.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.Function;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.primitive.BroadcastInDim;
import org.ntk4j.primitive.ReduceMax;
import org.ntk4j.primitive.ReduceSum;
import org.ntk4j.primitive.SumOfProducts;
import org.ntk4j.primitive.Tanh;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Bad shapes and dtypes: each gives one IllegalArgumentException (not wrapped, not another type) whose message
 * starts with the operation and names the shapes involved.
 */
class ErrorMessagesTest {
    private static final TensorType F32_2x3 = new TensorType(DType.F32, 2, 3);

    private static void assertRejected(ThrowingCallable call, String op, String... mentions) {
        assertThatThrownBy(call)
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasNoCause()
                .hasMessageStartingWith(op + ": ")
                .hasMessageContainingAll(mentions);
    }

    private static ThrowingCallable tracing(Function<Var[], Var> fn, TensorType... types) {
        return () -> Fixtures.trace1(fn, types);
    }

    @Test
    void binaryOperandsThatDoNotBroadcast() {
        TensorType f32x4 = new TensorType(DType.F32, 4);
        assertRejected(tracing(v -> v[0].add(v[1]), F32_2x3, f32x4), "add", "[2, 3]", "[4]");
        assertRejected(tracing(v -> v[1].mul(v[0]), F32_2x3, f32x4), "mul", "[4]", "[2, 3]");
        assertRejected(tracing(v -> v[0].sub(v[1]), F32_2x3, new TensorType(DType.F32, 3, 3)), "sub", "[2, 3]",
                "[3, 3]");
        assertRejected(tracing(v -> v[0].max(v[1]), F32_2x3, new TensorType(DType.F32, 2)), "max", "[2, 3]", "[2]");
    }

    @Test
    void mixedDtypes() {
        TensorType f64 = new TensorType(DType.F64, 2, 3);
        assertRejected(tracing(v -> v[0].add(v[1]), F32_2x3, f64), "add", "f32[2,3]", "f64[2,3]");
        assertRejected(tracing(v -> v[0].div(v[1]), F32_2x3, f64), "div", "f32[2,3]", "f64[2,3]");
        assertRejected(tracing(v -> v[0].matmul(v[1]), F32_2x3, new TensorType(DType.F64, 3, 2)), "dot_general",
                "f32[2,3]", "f64[3,2]");
    }

    @Test
    void dotGeneralWithMismatchedContractingSizes() {
        TensorType a = new TensorType(DType.F32, 3, 4);
        TensorType b = new TensorType(DType.F32, 5, 6);
        assertRejected(tracing(v -> v[0].matmul(v[1]), a, b), "dot_general", "f32[3,4]", "f32[5,6]", "size 4",
                "size 5");
        assertRejected(tracing(v -> v[0].dotGeneral(v[1], new int[] {1}, new int[] {1}, new int[] {0},
                new int[] {0}), a, new TensorType(DType.F32, 4, 4)), "dot_general", "batch", "f32[3,4]", "f32[4,4]");
        assertRejected(tracing(v -> v[0].dotGeneral(v[1], new int[] {2}, new int[] {0}, new int[0], new int[0]), a,
                b), "dot_general", "axis 2", "f32[3,4]");
    }

    @Test
    void reshapes() {
        assertRejected(tracing(v -> v[0].reshape(4, 2), F32_2x3), "reshape", "f32[2,3]", "[4, 2]");
        assertRejected(tracing(v -> v[0].reshape(-1, 4), F32_2x3), "reshape", "f32[2,3]", "[-1, 4]");
        assertRejected(tracing(v -> v[0].reshape(-1, -1), F32_2x3), "reshape", "f32[2,3]", "[-1, -1]");
        assertRejected(tracing(v -> v[0].reshape(-2, -3), F32_2x3), "reshape", "f32[2,3]", "[-2, -3]");
        assertRejected(tracing(v -> v[0].reshape(-1, -2), F32_2x3), "reshape", "f32[2,3]", "[-1, -2]");
        assertRejected(tracing(v -> v[0].builder().apply(new org.ntk4j.primitive.Reshape(new int[] {-2, -3}), v[0]),
                F32_2x3), "reshape", "f32[2,3]", "[-2, -3]");
    }

    @Test
    void transposes() {
        assertRejected(tracing(v -> v[0].transpose(0, 0), F32_2x3), "transpose", "[0, 0]", "f32[2,3]");
        assertRejected(tracing(v -> v[0].transpose(0), F32_2x3), "transpose", "[0]", "f32[2,3]");
        assertRejected(tracing(v -> v[0].transpose(1, 2), F32_2x3), "transpose", "[1, 2]", "f32[2,3]");
    }

    @Test
    void broadcasts() {
        assertRejected(tracing(v -> v[0].broadcastInDim(new int[] {4, 3}, new int[] {0, 1}), F32_2x3),
                "broadcast_in_dim", "f32[2,3]", "[4, 3]");
        assertRejected(tracing(v -> v[0].broadcastInDim(new int[] {3, 2, 5}, new int[] {1, 0}), F32_2x3),
                "broadcast_in_dim", "[1, 0]", "[3, 2, 5]");
        assertRejected(tracing(v -> v[0].broadcastInDim(new int[] {2, 3}, new int[] {0}), F32_2x3),
                "broadcast_in_dim", "[0]", "f32[2,3]");
        assertRejected(tracing(v -> v[0].broadcastInDim(new int[] {2, -3}, new int[] {0, 1}), F32_2x3),
                "broadcast_in_dim", "f32[2,3]", "[2, -3]");
        assertRejected(tracing(v -> v[0].broadcastInDim(new int[] {-1}, new int[0]), new TensorType(DType.F32)),
                "broadcast_in_dim", "f32[]", "[-1]");
        assertRejected(tracing(v -> v[0].builder().apply(new BroadcastInDim(new int[] {2, 3}, new int[] {0, 3}),
                v[0]), F32_2x3), "broadcast_in_dim", "[0, 3]", "[2, 3]");
        assertRejected(tracing(v -> v[0].broadcastTo(3), F32_2x3), "broadcast_to", "f32[2,3]", "[3]");
        assertRejected(tracing(v -> v[0].broadcastTo(2, 4), F32_2x3), "broadcast_in_dim", "f32[2,3]", "[2, 4]");
    }

    @Test
    void reductionsAndAxes() {
        assertRejected(tracing(v -> v[0].sum(2), F32_2x3), "reduce_sum", "axis 2", "f32[2,3]");
        assertRejected(tracing(v -> v[0].sum(-3), F32_2x3), "reduce_sum", "axis -3", "f32[2,3]");
        assertRejected(tracing(v -> v[0].reduceMax(new int[] {5}), F32_2x3), "reduce_max", "axis 5", "f32[2,3]");
        assertRejected(tracing(v -> v[0].mean(7), F32_2x3), "mean", "axis 7", "f32[2,3]");
        assertRejected(tracing(v -> v[0].sum(1, 1), F32_2x3), "reduce_sum", "axis 1", "twice", "f32[2,3]");
        assertRejected(tracing(v -> v[0].builder().apply(new ReduceSum(new int[] {2}), v[0]), F32_2x3),
                "reduce_sum", "axis 2", "f32[2,3]");
        TensorType f32x2 = new TensorType(DType.F32, 2);
        TensorType f64x3 = new TensorType(DType.F64, 3);
        assertRejected(tracing(v -> v[0].builder().apply(new SumOfProducts(1, 2), v[0], v[1]), F32_2x3, f32x2),
                "sum_of_products", "b f32[2]", "a f32[2,3]", "from an axis at most 1");
        assertRejected(tracing(v -> v[0].builder().apply(new SumOfProducts(0, 1), v[0], v[1]), F32_2x3,
                new TensorType(DType.F32, 3)), "sum_of_products", "b f32[3]", "a f32[2,3]", "at most 0");
        assertRejected(tracing(v -> v[0].builder().apply(new SumOfProducts(1, 3), v[0], v[1]), F32_2x3, F32_2x3),
                "sum_of_products", "[1, 3)", "f32[2,3]");
        assertRejected(tracing(v -> v[0].builder().apply(new SumOfProducts(1, 1), v[0], v[1]), F32_2x3, F32_2x3),
                "sum_of_products", "[1, 1)", "at least one");
        assertRejected(tracing(v -> v[0].builder().apply(new SumOfProducts(1, 2), v[0], v[1]), F32_2x3, f64x3),
                "sum_of_products", "dtypes differ", "f32[2,3]", "f64[3]");
        assertRejected(tracing(v -> v[0].builder().apply(new ReduceMax(new int[] {1}), v[0]),
                new TensorType(DType.F32, 3, 0)), "reduce_max", "empty", "f32[3,0]");
        assertRejected(tracing(v -> v[0].expandDims(3), F32_2x3), "expand_dims", "axis 3", "f32[2,3]");
        assertRejected(tracing(v -> v[0].expandDims(-4), F32_2x3), "expand_dims", "axis -4", "f32[2,3]");
        // the edges of the valid range work
        assertThat(Fixtures.trace1(v -> v[0].expandDims(2), F32_2x3).outputs().get(0).shape()).containsExactly(2, 3, 1);
        assertThat(Fixtures.trace1(v -> v[0].expandDims(-3), F32_2x3).outputs().get(0).shape())
                .containsExactly(1, 2, 3);
    }

    @Test
    void operandCountsAndForeignOperands() {
        assertRejected(tracing(v -> v[0].builder().apply(Tanh.INSTANCE, v[0], v[0]), F32_2x3), "tanh", "2");
        GraphBuilder other = new GraphBuilder();
        Var foreign = other.input(F32_2x3);
        assertRejected(tracing(v -> v[0].add(foreign), F32_2x3), "add", "another graph");
        assertRejected(tracing(v -> v[0].builder().apply(Tanh.INSTANCE, (Var) null), F32_2x3), "tanh", "null");
    }

    @Test
    void evaluatingWithWrongInputs() {
        Graph g = Fixtures.trace1(v -> v[0].tanh(), F32_2x3);
        try (Tensor wrongShape = Tensor.zeros(DType.F32, 3, 2); Tensor wrongDtype = Tensor.zeros(DType.F64, 2, 3);
             Tensor right = Tensor.zeros(DType.F32, 2, 3)) {
            assertRejected(() -> g.evaluate(wrongShape), "evaluate", "input 0", "f32[2,3]", "f32[3,2]");
            assertRejected(() -> g.evaluate(wrongDtype), "evaluate", "input 0", "f32[2,3]", "f64[2,3]");
            assertRejected(() -> g.evaluate(right, right), "evaluate", "1 inputs", "got 2");
            assertRejected(() -> g.evaluate(), "evaluate", "got 0");
            assertRejected(() -> g.evaluate((Tensor) null), "evaluate", "f32[2,3]", "null");
        }
    }

    @Test
    void transformationsCheckTheirArguments() {
        Graph g = Fixtures.trace1(v -> v[0].tanh(), F32_2x3);
        assertRejected(() -> Jvp.of(g, 0), "jvp", "at least 1");
        assertRejected(() -> Vjp.of(g, 0), "vjp", "at least 1");
        assertRejected(() -> Jvp.of(g, 2, new boolean[2]), "jvp", "2 entries");
        assertRejected(() -> Vjp.of(g, 2, new boolean[0]), "vjp", "0 entries");
    }

    @Test
    void tensorsAndTypes() {
        assertRejected(() -> Tensor.of(new double[5], 2, 3), "Tensor.of", "[2, 3]", "6", "5");
        try (Tensor t = Tensor.zeros(DType.F32, 2, 3)) {
            assertRejected(() -> t.reshape(4, 2), "reshape", "[2, 3]", "[4, 2]");
            assertThatThrownBy(() -> t.get(0)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[2, 3]");
            assertThatThrownBy(() -> t.get(2, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("[2, 3]");
            assertRejected(() -> t.dim(2), "dim", "axis 2");
        }
        assertRejected(() -> DType.parse("int8"), "dtype", "int8");
        assertThatThrownBy(() -> new TensorType(DType.F32, 2, -1)).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2, -1]");
        assertThatThrownBy(() -> new TensorType(DType.F32, 1 << 16, 1 << 16))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("2^31");
    }

    @Test
    void aClosedTensorCannotBeReadOrWritten() {
        Tensor t = Tensor.of(new double[] {1, 2}, 2);
        t.close();
        t.close(); // idempotent
        assertThat(t.isClosed()).isTrue();
        assertThat(t.toString()).contains("closed");
        assertThatThrownBy(() -> t.getFlat(0)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> t.setFlat(0, 1)).isExactlyInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::toDoubleArray).isExactlyInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::pointer).isExactlyInstanceOf(IllegalStateException.class);
        assertThatThrownBy(t::copy).isExactlyInstanceOf(IllegalStateException.class);
        Tensor f = Tensor.of(new float[] {1}, 1);
        f.close();
        assertThatThrownBy(() -> f.get(0)).isExactlyInstanceOf(IllegalStateException.class);
    }
}
