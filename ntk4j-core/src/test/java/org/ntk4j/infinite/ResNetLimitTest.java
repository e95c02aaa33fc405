package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.Ensemble;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** {@link ResNetLimit} against the cnn's limit (no blocks) and the finite resnet's ensemble mean (one block). */
class ResNetLimitTest {
    /** Without blocks the resnet is the cnn of one 3×3 conv with gap: the same limit, to rounding. */
    @Test
    void withoutBlocksItIsTheOneLayerCnn() {
        for (String common : new String[] {"out=2,act=relu,param=ntk,w_std=1.3,b_std=0.2",
            "out=2,act=erf,param=standard,w_std=1.1,b_std=0"}) {
            InfiniteLimit resnet = InfiniteLimit.of("resnet(blocks=0,channels=5," + common + ")");
            InfiniteLimit cnn = InfiniteLimit.of("cnn(depth=1,channels=5,filter=3,pool=gap," + common + ")");
            try (Tensor x = Tensor.randomNormal(DType.F64, 4, 3, 4, 5, 2)) {
                for (LimitKernel which : LimitKernel.values()) {
                    try (Tensor a = resnet.kernel(KernelKind.trace(), x, null, which, DType.F64);
                         Tensor b = cnn.kernel(KernelKind.trace(), x, null, which, DType.F64)) {
                        for (int f = 0; f < a.size(); f++) {
                            assertThat(a.getFlat(f)).isCloseTo(b.getFlat(f), within(1e-14 * Math.abs(b.getFlat(f))));
                        }
                    }
                }
            }
        }
    }

    /**
     * One block: the skip and the branch are uncorrelated at initialisation, so their kernels add. The branch's
     * second conv sees activations of a conv of activations, Gaussian only as the channels grow, so the mean of the
     * finite network's eNTK over initialisations reaches the limit up to an O(1/channels) bias: 300 members of the
     * 64-channel network on three 4×4×2 images, each entry within 4 standard errors plus 2% of its scale
     * √(K(x,x) K(x',x')) (a kernel without the branch is off by more than 10%). Checked once at 128 channels, 400
     * members, 1 and 2 blocks, relu and erf: every NTK and NNGP entry within 2 standard errors.
     */
    @Test
    void oneBlocksEnsembleMeanApproachesTheLimit() {
        String spec = "resnet(blocks=1,channels=64,out=4,act=relu,w_std=1.2,b_std=0.3)";
        int[] per = {4, 4, 2};
        Model m = Zoo.parse(spec);
        ResNetLimit lim = ResNetLimit.of(spec);
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, CnnLimitTest.prepend(3, per));
             Ensemble.Mean mean = Ensemble.of(m, 0, 300, per, DType.F64).kernel(KernelKind.trace(), x, null);
             Tensor want = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor noBranch = ResNetLimit.of(spec.replace("blocks=1", "blocks=0")).kernel(KernelKind.trace(), x,
                     null, LimitKernel.NTK, DType.F64)) {
            for (int i = 0; i < 3; i++) {
                for (int j = i; j < 3; j++) {
                    double scale = Math.sqrt(want.get(i, i) * want.get(j, j));
                    double sem = mean.sem().get(i, j);
                    System.out.printf("resnet (%d, %d): mean %.5g ± %.2g, limit %.5g%n", i, j, mean.mean().get(i, j),
                            sem, want.get(i, j));
                    assertThat(mean.mean().get(i, j)).as("(%d, %d)", i, j).isCloseTo(want.get(i, j),
                            within(4 * sem + 0.02 * scale));
                    assertThat(Math.abs(noBranch.get(i, j) - want.get(i, j))).isGreaterThan(0.1 * scale);
                }
            }
        }
    }

    /** leaky_relu's slope reaches the resnet's limit: slope 0 is relu and slope 1 identity, to rounding. */
    @Test
    void leakyReluSlopesZeroAndOneAreReluAndIdentity() {
        String common = "resnet(blocks=1,channels=4,out=2,w_std=1.2,b_std=0.3,act=";
        try (Tensor x = Tensor.randomNormal(DType.F64, 9, 3, 3, 3, 2)) {
            CnnLimitTest.assertSameKernel(common + "leaky_relu,slope=0)", common + "relu)", x, true);
            CnnLimitTest.assertSameKernel(common + "leaky_relu,slope=1)", common + "identity)", x, true);
            CnnLimitTest.assertSameKernel(common + "leaky_relu,slope=0.5)", common + "leaky_relu)", x, false);
        }
    }

    @Test
    void badOptionsAndHyperparametersAreRefusedInOneLine() {
        assertThat(InfiniteLimit.of("resnet")).hasToString("resnet limit (blocks=2, out=10, act=relu, param=ntk, "
                + "w_std=1.5, b_std=0.05)");
        assertThatThrownBy(() -> ResNetLimit.of("resnet(act=nope)")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("option act must be one of").hasMessageContaining("got 'nope'");
        assertThatThrownBy(() -> ResNetLimit.of("resnet(filter=5)")).hasMessageContaining("unknown option 'filter'");
        assertThatThrownBy(() -> ResNetLimit.of("cnn")).hasMessageEndingWith("only, not 'cnn'");
        assertThatThrownBy(() -> new ResNetLimit(-1, 8, 2, new Activation(Activation.Kind.RELU), Parameterization.NTK,
                1, 0))
                .hasMessage("resnet limit: expected blocks >= 0, channels >= 1 and out >= 1, got blocks -1, "
                        + "channels 8, out 2");
        assertThatThrownBy(() -> new ResNetLimit(1, 8, 2, new Activation(Activation.Kind.RELU), null, 1, 0))
                .hasMessage("resnet limit: act and param are required, got act RELU, param null");
        try (Tensor x = Tensor.randomNormal(DType.F64, 1, 2, 7)) {
            assertThatThrownBy(() -> InfiniteLimit.of("resnet").kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                    DType.F64))
                    .hasMessageStartingWith("infinite-width limit: x1 examples must be images");
        }
    }
}
