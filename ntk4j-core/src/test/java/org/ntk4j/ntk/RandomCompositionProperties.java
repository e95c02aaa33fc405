package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Random compositions of layers: all methods agree with each other and with finite differences (float64). */
class RandomCompositionProperties {
    static Layer randomNetwork(long seed) {
        Random r = new Random(seed);
        List<Layer> layers = new ArrayList<>();
        int depth = 1 + r.nextInt(3);
        for (int i = 0; i < depth; i++) {
            int width = 2 + r.nextInt(3);
            Parameterization p = r.nextBoolean() ? Parameterization.NTK : Parameterization.STANDARD;
            switch (r.nextInt(5)) {
                case 0:
                    layers.add(Layers.dense(width, 1.3, r.nextBoolean() ? 0.2 : 0, p));
                    layers.add(activation(r));
                    break;
                case 1:
                    layers.add(Layers.dense(width, 1.1, 0.1, p));
                    layers.add(Layers.layerNorm());
                    break;
                case 2:
                    layers.add(Layers.dense(width, 1.0, 0, p));
                    layers.add(Layers.residual(Layers.dense(width, 0.9, 0.3, p), activation(r)));
                    break;
                case 3:
                    layers.add(Layers.serial(Layers.fanOut(2), Layers.parallel(Layers.dense(width),
                            Layers.serial(Layers.dense(1 + r.nextInt(2), 1.2, 0.1, p), activation(r))),
                            Layers.fanInConcat(-1)));
                    break;
                default:
                    layers.add(activation(r));
                    layers.add(Layers.dense(width, 1.4, 0.05, p));
            }
        }
        layers.add(Layers.dense(2, 1.0, 0.1, Parameterization.NTK));
        return Layers.serial(layers.toArray(new Layer[0]));
    }

    private static Layer activation(Random r) {
        // exp is left out: through random stacks its pre-activations grow like iterated exponentials
        Layer[] acts = {Layers.tanh(), Layers.erf(), Layers.gelu(), Layers.softplus(), Layers.sin(), Layers.sigmoid(),
            Layers.gaussian(), Layers.cos(), Layers.silu(), Layers.elu()};
        return acts[r.nextInt(acts.length)];
    }

    @Property(tries = 8, seed = "424242")
    void methodsAgreeOnRandomCompositions(@ForAll long seed) {
        Model m = new Model(randomNetwork(seed), "random-" + seed);
        int[] in = {3};
        Params p = m.init(seed, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, seed + 1, 3, 3);
        Tensor x2 = Tensor.randomNormal(DType.F64, seed + 2, 2, 3);
        EmpiricalNtk base = EmpiricalNtk.of(m, p).traceAxes();
        Tensor jc = base.method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2);
        assertThat(EmpiricalNtkTest.relativeError(base.method(Method.NTK_VECTOR_PRODUCTS).ntk(x1, x2), jc))
                .as("vp, %s", m.root()).isLessThan(1e-10);
        assertThat(EmpiricalNtkTest.relativeError(base.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, x2), jc))
                .as("sd, %s", m.root()).isLessThan(1e-10);
        assertThat(EmpiricalNtkTest.relativeError(jc, EmpiricalNtkTest.finiteDifferenceNtk(m, p, in, x1, x2)))
                .as("finite differences, %s", m.root()).isLessThan(1e-6);
    }
}
