package org.ntk4j.graph;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.primitive.ConvInputGrad;
import org.ntk4j.primitive.ConvInputGradMul;
import org.ntk4j.primitive.Mul;
import org.ntk4j.primitive.Reshape;

/**
 * Puts a convolution's input gradient and the product that follows it in one step. A backward pass with K stacked
 * cotangents computes, at each convolution below a ReLU, {@code u = conv_input_grad(dy, w)} ({@code [K·N, H, W, C]},
 * the stack merged into the batch), reshapes it to {@code [K, N, H, W, C]} and multiplies it by the layer's mask
 * times its scale {@code m [N, H, W, C]}: the product is a pass of its own over the whole stack. Where {@code u}
 * (and the reshape) are read by nothing else and are no graph outputs, this rewrites {@code reshape(u) ⊙ m} (either
 * operand order; also {@code u ⊙ m} with m {@code [M, H, W, C]}, M dividing the batch) to
 * {@code reshape(conv_input_grad_mul(dy, w, m))} ({@link ConvInputGradMul}), whose kernel takes the product as the
 * gradient's rows are written. The values are the same, element by element; the graph's inputs and outputs are
 * unchanged.
 */
public final class InputGradProducts {
    private InputGradProducts() {
    }

    /**
     * The rewritten graph: same inputs, outputs (in order) and values.
     *
     * @param g the graph
     * @return {@code g} itself when nothing applies, else a new graph
     */
    public static Graph apply(Graph g) {
        Map<Var, Equation> producer = new IdentityHashMap<>();
        Map<Var, Integer> uses = ProductRewrite.producersAndUses(g, producer);
        for (Var v : g.outputs()) {
            uses.merge(v, 1, Integer::sum); // an output is read by the caller
        }
        Map<Equation, Match> fused = new IdentityHashMap<>(); // product -> the input gradient it takes in
        for (Equation e : g.equations()) {
            Match match = e.primitive() instanceof Mul ? fusable(e, producer, uses) : null;
            if (match != null) {
                fused.put(e, match);
            }
        }
        if (fused.isEmpty()) {
            return g;
        }
        GraphBuilder b = new GraphBuilder();
        Map<Var, Var> now = ProductRewrite.replayInputsAndConstants(g, b);
        for (Equation e : g.equations()) {
            Match match = fused.get(e);
            if (match == null) {
                List<Var> ins = e.inputs();
                Var[] in = new Var[ins.size()];
                for (int i = 0; i < in.length; i++) {
                    in[i] = now.get(ins.get(i));
                }
                now.put(e.output(), b.apply(e.primitive(), in));
                continue;
            }
            // the old input gradient (and reshape) are emitted too, unread: build drops them
            Equation grad = match.grad();
            ConvInputGrad ig = (ConvInputGrad) grad.primitive();
            Var m = now.get(e.input(match.multiplier()));
            Var v = b.apply(new ConvInputGradMul(ig.window(), ig.inputSpatial()), now.get(grad.input(0)),
                    now.get(grad.input(1)), m);
            int[] shape = e.output().shape();
            now.put(e.output(), Arrays.equals(v.shape(), shape) ? v : v.reshape(shape));
        }
        Var[] outs = new Var[g.outputs().size()];
        for (int i = 0; i < outs.length; i++) {
            outs[i] = now.get(g.outputs().get(i));
        }
        return b.build(outs);
    }

    /** A product's input gradient and the index of its multiplier operand. */
    private record Match(Equation grad, int multiplier) {
    }

    /**
     * For a product {@code x ⊙ m} (either order): the {@code conv_input_grad} equation behind x (x itself, or a
     * reshape of it that splits its batch axis) when both are read only here and m is {@code [M] + (the gradient's
     * shape without its batch)}, M dividing the batch, of the same dtype; else null.
     */
    private static Match fusable(Equation e, Map<Var, Equation> producer, Map<Var, Integer> uses) {
        for (int i = 0; i < 2; i++) {
            Equation grad = gradBehind(e.input(i), producer, uses);
            if (grad != null && fitsOperand(grad.output(), e.input(i), e.input(1 - i), e.output())) {
                return new Match(grad, 1 - i);
            }
        }
        return null;
    }

    /** The conv_input_grad equation whose result x is (or a reshape of), when x and that result are read once. */
    private static Equation gradBehind(Var x, Map<Var, Equation> producer, Map<Var, Integer> uses) {
        if (uses.getOrDefault(x, 0) != 1) {
            return null;
        }
        Equation p = producer.get(x);
        if (p == null) {
            return null;
        }
        if (p.primitive() instanceof ConvInputGrad) {
            return p;
        }
        if (p.primitive() instanceof Reshape) {
            Equation q = producer.get(p.input(0));
            if (q != null && q.primitive() instanceof ConvInputGrad && uses.getOrDefault(p.input(0), 0) == 1) {
                return q;
            }
        }
        return null;
    }

    /**
     * Whether {@code x} (u itself, or u {@code [B] + S} reshaped to {@code [B/M, M] + S}) times {@code m}
     * ({@code [M] + S}) is {@code result}, of x's shape and dtype: the product conv_input_grad_mul computes.
     */
    private static boolean fitsOperand(Var u, Var x, Var m, Var result) {
        int[] us = u.shape();
        int[] xs = x.shape();
        int[] ms = m.shape();
        if (m.dtype() != u.dtype() || x.dtype() != u.dtype() || !Arrays.equals(result.shape(), xs)
                || ms.length != us.length || ms[0] < 1 || us[0] % ms[0] != 0
                || !Arrays.equals(Arrays.copyOfRange(ms, 1, ms.length), Arrays.copyOfRange(us, 1, us.length))) {
            return false;
        }
        if (x == u) {
            return ms[0] == us[0] || ms[0] == 1; // [B] + S against [M] + S: NumPy broadcasts only these
        }
        return xs.length == us.length + 1 && xs[0] * xs[1] == us[0] && xs[1] == ms[0]
                && Arrays.equals(Arrays.copyOfRange(xs, 2, xs.length), Arrays.copyOfRange(us, 1, us.length));
    }
}
