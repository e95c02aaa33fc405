package org.ntk4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.predict.Loss;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class TrainerTest {
    private static final int[] IN = {4, 3};

    static List<Arguments> zooAndLosses() {
        List<Arguments> a = new ArrayList<>();
        for (String spec : List.of("fcn(depth=2,width=5,out=3,act=erf)", "fcn(depth=1,width=4,out=3,param=standard)",
                "cnn(depth=1,channels=2,out=3,act=tanh)", "cnn(depth=1,channels=2,out=3,pool=flatten)",
                "resnet(blocks=1,channels=2,out=3,act=gelu)", "transformer(layers=1,dim=4,heads=2,out=3)")) {
            for (Loss l : Loss.values()) {
                a.add(Arguments.of(spec, l));
            }
        }
        return a;
    }

    private static Tensor onehot(int[] labels, int classes, DType dtype) {
        Tensor y = Tensor.zeros(dtype, labels.length, classes);
        for (int i = 0; i < labels.length; i++) {
            y.setFlat(i * classes + labels[i], 1);
        }
        return y;
    }

    private static double lossOf(Model m, Params p, Tensor x, Tensor y, Loss loss) {
        try (Tensor f = m.apply(p, x)) {
            return loss.value(f.toDoubleArray(), y.toDoubleArray(), y.dim(1));
        }
    }

    @ParameterizedTest
    @MethodSource("zooAndLosses")
    void gradientsEqualFiniteDifferencesInFloat64(String spec, Loss loss) {
        Model m = Zoo.parse(spec);
        int[] labels = {0, 2, 1, 2, 0};
        try (Params p = m.init(7, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 5, 4, 3);
                Tensor y = onehot(labels, 3, DType.F64);
                Trainer.LossGradient lg = Trainer.lossAndGradient(m, p, x, y, loss)) {
            assertThat(lg.loss()).isCloseTo(lossOf(m, p, x, y, loss), org.assertj.core.data.Offset.offset(1e-12));
            double h = 1e-6;
            for (Map.Entry<String, Tensor> e : p.tensors().entrySet()) {
                Tensor t = e.getValue();
                Tensor g = lg.gradient().get(e.getKey());
                for (int i = 0; i < t.size(); i += Math.max(1, t.size() / 5)) {
                    double v = t.getFlat(i);
                    t.setFlat(i, v + h);
                    double up = lossOf(m, p, x, y, loss);
                    t.setFlat(i, v - h);
                    double down = lossOf(m, p, x, y, loss);
                    t.setFlat(i, v);
                    double fd = (up - down) / (2 * h);
                    assertThat(g.getFlat(i)).as("%s %s %s[%d]", spec, loss, e.getKey(), i)
                            .isCloseTo(fd, org.assertj.core.data.Offset.offset(1e-7 + 1e-6 * Math.abs(fd)));
                }
            }
        }
    }

    /** f = x W + b (standard parameterisation), 3 inputs, 2 outputs; full-batch steps by hand. */
    private static double[][] handSteps(Optimizer o, Loss loss, double lr, double[] x, int[] labels, double[] w0,
            double[] b0, int steps) {
        int n = labels.length;
        double[] w = w0.clone();
        double[] b = b0.clone();
        double[][] buf1 = {new double[6], new double[2]};
        double[][] buf2 = {new double[6], new double[2]};
        for (int t = 1; t <= steps; t++) {
            double[] f = new double[n * 2];
            double[] y = new double[n * 2];
            for (int i = 0; i < n; i++) {
                y[i * 2 + labels[i]] = 1;
                for (int o2 = 0; o2 < 2; o2++) {
                    double s = b[o2];
                    for (int k = 0; k < 3; k++) {
                        s += x[i * 3 + k] * w[k * 2 + o2];
                    }
                    f[i * 2 + o2] = s;
                }
            }
            double[] g = new double[n * 2];
            loss.gradient(f, y, 2, g);
            double[] gw = new double[6];
            double[] gb = new double[2];
            for (int i = 0; i < n; i++) {
                for (int o2 = 0; o2 < 2; o2++) {
                    gb[o2] += g[i * 2 + o2];
                    for (int k = 0; k < 3; k++) {
                        gw[k * 2 + o2] += x[i * 3 + k] * g[i * 2 + o2];
                    }
                }
            }
            double[][] th = {w, b};
            double[][] gr = {gw, gb};
            for (int p = 0; p < 2; p++) {
                for (int i = 0; i < th[p].length; i++) {
                    double d = gr[p][i] + o.weightDecay() * th[p][i];
                    if (o.kind() == Optimizer.Kind.SGD) {
                        buf1[p][i] = o.momentum() * buf1[p][i] + d;
                        th[p][i] -= lr * buf1[p][i];
                    } else {
                        buf1[p][i] = o.beta1() * buf1[p][i] + (1 - o.beta1()) * d;
                        buf2[p][i] = o.beta2() * buf2[p][i] + (1 - o.beta2()) * d * d;
                        double mh = buf1[p][i] / (1 - Math.pow(o.beta1(), t));
                        double vh = buf2[p][i] / (1 - Math.pow(o.beta2(), t));
                        th[p][i] -= lr * mh / (Math.sqrt(vh) + o.epsilon());
                    }
                }
            }
        }
        return new double[][] {w, b};
    }

    static List<Arguments> optimizers() {
        return List.of(Arguments.of(Optimizer.sgd(0.9, 0.01), Loss.CROSS_ENTROPY),
                Arguments.of(Optimizer.sgd(0.5, 0.1), Loss.MSE),
                Arguments.of(Optimizer.adam(0.9, 0.999, 1e-8, 0.01), Loss.CROSS_ENTROPY),
                Arguments.of(Optimizer.adam(0.8, 0.99, 1e-3, 0), Loss.MSE));
    }

    @ParameterizedTest
    @MethodSource("optimizers")
    void stepsEqualHandComputedUpdatesOnATinyNetwork(Optimizer o, Loss loss) throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=2,param=standard)");
        double[] xs = {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.5, 0.1, 0.2, 0.3};
        int[] labels = {0, 1, 1, 0};
        try (Params init = m.init(3, new int[] {3}, DType.F64); Tensor x = Tensor.of(xs, 4, 3)) {
            List<String> paths = new ArrayList<>(init.tensors().keySet());
            double[] w0 = init.get(paths.get(0)).toDoubleArray();
            double[] b0 = init.get(paths.get(1)).toDoubleArray();
            for (int steps = 1; steps <= 3; steps++) {
                TrainConfig c = TrainConfig.builder().optimizer(o).loss(loss).learningRate(0.3).batchSize(4)
                        .epochs(steps).seed(1).build();
                double[][] hand = handSteps(o, loss, 0.3, xs, labels, w0, b0, steps);
                try (TrainResult r = Trainer.train(m, init, new Examples(x, labels, 2), null, c, Listener.NONE)) {
                    assertThat(r.params().get(paths.get(0)).toDoubleArray()).containsExactly(hand[0],
                            org.assertj.core.data.Offset.offset(1e-13));
                    assertThat(r.params().get(paths.get(1)).toDoubleArray()).containsExactly(hand[1],
                            org.assertj.core.data.Offset.offset(1e-13));
                    assertThat(r.curves()).hasSize(steps + 1);
                }
            }
            // init is not changed by training
            assertThat(init.get(paths.get(0)).toDoubleArray()).containsExactly(w0);
        }
    }

    /**
     * Mini-batches of 2 over 5 examples (the last batch of each epoch has 1, kept, its loss a mean over its own
     * entries), the shuffled order of {@link Trainer#permutation}, a step and a cosine schedule, momentum, Adam's
     * betas and ε and weight decay: 3 epochs against PyTorch 1.13 in float64 ({@code torch.optim.SGD}/{@code Adam},
     * the learning rate of each step set to η·factor, the cross-entropy {@code F.cross_entropy(f, y) / 3} and the
     * MSE {@code 0.5 * ((f - onehot)**2).sum() / f.numel()}), the final parameters and the epochs' mean losses
     * ({@code torch_train_oracle.py} in this package's test resources prints them, with PyTorch's schedulers).
     */
    @Test
    void miniBatchesWithAPartialLastBatchAndSchedulesEqualPyTorch() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        double[] xs = {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.3, 0.7};
        int[] labels = {0, 2, 1, 2, 0};
        // the permutations PyTorch was given, and the initial parameters (seed 3)
        assertThat(Trainer.permutation(5, 1, 5)).containsExactly(3, 4, 0, 2, 1);
        assertThat(Trainer.permutation(5, 2, 5)).containsExactly(3, 2, 4, 0, 1);
        assertThat(Trainer.permutation(5, 3, 5)).containsExactly(3, 1, 2, 4, 0);
        TrainConfig sgd = TrainConfig.builder().optimizer(Optimizer.sgd(0.9, 0.01)).loss(Loss.CROSS_ENTROPY)
                .learningRate(0.5).schedule(Schedule.step(1, 0.5)).batchSize(2).epochs(3).seed(5).build();
        double[] sgdParams = {0.4275366294534248, 0.28400344505550273, 0.33331941641733653, -0.07948841266060856,
            -0.42752292157390437, 1.4856390382600966, 0.11459436055316854, -0.218476722006096, 0.01691446586834064};
        double[] sgdLosses = {0.2819702803761742, 0.24517531729970088, 0.23837588378292826};
        TrainConfig adam = TrainConfig.builder().optimizer(Optimizer.adam(0.8, 0.99, 1e-6, 0.05)).loss(Loss.MSE)
                .learningRate(0.1).schedule(Schedule.cosine()).batchSize(2).epochs(3).seed(5).build();
        double[] adamParams = {0.10576301874876572, -0.019235663821263252, 0.05679883310393387, 0.14991815343356954,
            -0.162337049770776, 0.6422744465034566, 0.14247980151345593, 0.2209296552231884, 0.09014441268849689};
        double[] adamLosses = {0.28388589381329477, 0.13464508115822, 0.11487200487575226};
        try (Params init = m.init(3, new int[] {2}, DType.F64); Tensor x = Tensor.of(xs, 5, 2)) {
            assertThat(init.get("1_dense/w").toDoubleArray()).containsExactly(0.3969690372531139,
                    0.3299144164868595, 0.40685290060002194, 0.26894969100793237, -0.2608037533882535,
                    1.0537248833406707);
            for (Object[] c : new Object[][] {{sgd, sgdParams, sgdLosses}, {adam, adamParams, adamLosses}}) {
                try (TrainResult r = Trainer.train(m, init, new Examples(x, labels, 3), null, (TrainConfig) c[0],
                        Listener.NONE)) {
                    double[] got = java.util.stream.DoubleStream.concat(
                            java.util.Arrays.stream(r.params().get("1_dense/w").toDoubleArray()),
                            java.util.Arrays.stream(r.params().get("1_dense/b").toDoubleArray())).toArray();
                    assertThat(got).containsExactly((double[]) c[1], org.assertj.core.data.Offset.offset(1e-13));
                    double[] losses = r.curves().subList(1, 4).stream().mapToDouble(EpochMetrics::trainLoss)
                            .toArray();
                    assertThat(losses).containsExactly((double[]) c[2], org.assertj.core.data.Offset.offset(1e-15));
                    // 3 steps per epoch, the third of one example
                    assertThat(r.curves()).extracting(EpochMetrics::step).containsExactly(0L, 3L, 6L, 9L);
                }
            }
        }
    }

    /**
     * The settings {@link #miniBatchesWithAPartialLastBatchAndSchedulesEqualPyTorch} leaves out, 4 epochs over the
     * same 5 examples and permutations, against PyTorch 1.13 in float64 with its own schedulers ({@code
     * StepLR(step_size=EVERY, gamma=FACTOR)} stepped per epoch, {@code CosineAnnealingLR(T_max=epochs × steps)}
     * stepped per batch), printed by {@code torch_train_oracle.py} (this package's test resources), which builds the
     * same linear network from the same initial parameters: SGD without momentum (no buffer) with weight decay on
     * the MSE and a step schedule of EVERY 2; SGD with momentum on the cross-entropy with a cosine schedule; Adam at
     * PyTorch's defaults with weight decay on the cross-entropy; Adam with ε = 0.1 (large enough that adding it to
     * √v̂, after the bias correction, and not to √v, is seen) in batches of 3 (a last batch of 2). Float64 to 1e-13;
     * the same runs in float32 to 2e-6 of the float64 reference (float32's rounding over 12 steps of parameters of
     * size about 1).
     */
    @Test
    void moreOptimizerSettingsEqualPyTorch() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        double[] xs = {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.3, 0.7};
        int[] labels = {0, 2, 1, 2, 0};
        assertThat(Trainer.permutation(5, 4, 5)).containsExactly(1, 2, 0, 4, 3);
        TrainConfig.Builder base = TrainConfig.builder().epochs(4).seed(5).batchSize(2);
        Object[][] cases = {
            {base.optimizer(Optimizer.sgd(0, 0.1)).loss(Loss.MSE).learningRate(0.7).schedule(Schedule.step(2, 0.5))
                    .build(),
                new double[] {0.08282172120813461, 0.014720589978087534, -0.0706135837529736, -0.1373026535374801,
                    -0.10771576220908402, 0.4220664996939861, 0.315940250383722, 0.1398907941311643,
                    0.2523158350683324},
                new double[] {0.2837044383423815, 0.1548628491607036, 0.106436660430791, 0.08825667673212875}},
            {base.optimizer(Optimizer.sgd(0.9, 0)).loss(Loss.CROSS_ENTROPY).learningRate(0.5)
                    .schedule(Schedule.cosine()).build(),
                new double[] {0.473570680299105, 0.30056327394438564, 0.3596024000965047, -0.1622737620313749,
                    -0.5086749757350739, 1.7328195587267983, 0.16055601048951681, -0.27325842155065777,
                    0.018336933462537362},
                new double[] {0.2812331092147876, 0.24550671622591574, 0.23630192037171197, 0.2292698306800088}},
            {base.optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0.01)).loss(Loss.CROSS_ENTROPY).learningRate(0.05)
                    .schedule(Schedule.step(1, 0.7)).build(),
                new double[] {0.4725240756926902, 0.31958143901985797, 0.33456771687397363, 0.13635101611133923,
                    -0.4037366020835396, 1.3167263083612095, 0.08438989514900092, -0.20745791695056995,
                    -0.09233010365102708},
                new double[] {0.2747822795910632, 0.247801806242337, 0.24270376991748005, 0.23833681146837557}},
            {base.optimizer(Optimizer.adam(0.5, 0.9, 0.1, 0)).loss(Loss.MSE).learningRate(0.2)
                    .schedule(Schedule.constant()).batchSize(3).build(),
                new double[] {0.053737068743839905, -0.017551757707215412, -0.09227623463446598,
                    -0.15756820340919842, -0.1777132319633105, 0.40359107671585664, 0.3893643033098554,
                    0.21771078931230514, 0.2508275729019805},
                new double[] {0.29371705508139023, 0.13069584824722594, 0.0942386062262987, 0.07795568685516849}}};
        try (Params init = m.init(3, new int[] {2}, DType.F64); Tensor x = Tensor.of(xs, 5, 2);
             Tensor x32 = x.to(DType.F32);
             Params init32 = toF32(init)) {
            assertThat(init.get("1_dense/b").toDoubleArray()).containsExactly(-0.03424510230050446,
                    -8.650290521098615E-4, -0.059255346245989236);
            for (Object[] c : cases) {
                TrainConfig config = (TrainConfig) c[0];
                for (boolean f64 : new boolean[] {true, false}) {
                    double tol = f64 ? 1e-13 : 2e-6;
                    try (TrainResult r = Trainer.train(m, f64 ? init : init32, new Examples(f64 ? x : x32, labels, 3),
                            null, config, Listener.NONE)) {
                        double[] got = java.util.stream.DoubleStream.concat(
                                java.util.Arrays.stream(r.params().get("1_dense/w").toDoubleArray()),
                                java.util.Arrays.stream(r.params().get("1_dense/b").toDoubleArray())).toArray();
                        assertThat(got).as("%s %s", config.describe(), f64 ? "f64" : "f32")
                                .containsExactly((double[]) c[1], org.assertj.core.data.Offset.offset(tol));
                        double[] losses = r.curves().subList(1, 5).stream().mapToDouble(EpochMetrics::trainLoss)
                                .toArray();
                        assertThat(losses).as("%s %s", config.describe(), f64 ? "f64" : "f32")
                                .containsExactly((double[]) c[2], org.assertj.core.data.Offset.offset(tol));
                    }
                }
            }
        }
    }

    /**
     * A batch larger than the training set is accepted, as PyTorch's {@code DataLoader} does (one batch of all N
     * examples per epoch: full-batch gradient descent), and is the run with a batch of N, bit for bit; refusing it
     * would refuse the default --batch 128 on any small --train (docs/training.md says so).
     */
    @Test
    void aBatchAboveTheExamplesIsOneFullBatchPerEpoch() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        int[] labels = {0, 2, 1, 2, 0};
        try (Params init = m.init(3, new int[] {2}, DType.F64);
             Tensor x = Tensor.of(new double[] {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.3, 0.7}, 5, 2)) {
            TrainConfig.Builder b = TrainConfig.builder().optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0)).epochs(3)
                    .learningRate(0.1).seed(5);
            try (TrainResult five = Trainer.train(m, init, new Examples(x, labels, 3), null, b.batchSize(5).build(),
                    Listener.NONE);
                 TrainResult more = Trainer.train(m, init, new Examples(x, labels, 3), null, b.batchSize(128).build(),
                         Listener.NONE)) {
                assertThat(more.curves()).extracting(EpochMetrics::step).containsExactly(0L, 1L, 2L, 3L);
                for (String k : init.tensors().keySet()) {
                    assertThat(more.params().get(k).toDoubleArray()).containsExactly(five.params().get(k)
                            .toDoubleArray());
                }
            }
        }
    }

    private static Params toF32(Params p) {
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        p.tensors().forEach((k, v) -> m.put(k, v.to(DType.F32)));
        return new Params(m);
    }

    /**
     * The evaluation of outputs all 0 (zero parameters), in batches of 2 over 5 examples: ties go to the first
     * class (accuracy = the share of label 0), the cross-entropy is ln(3)/3 and the MSE 1/(2·3), means over the
     * N × classes entries whatever the batches.
     */
    @Test
    void evaluationTiesGoToTheFirstClassAndLossesAreMeansOverEntries() {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        try (Params p = m.init(0, new int[] {2}, DType.F64);
             Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 2)) {
            p.tensors().values().forEach(t -> {
                for (int i = 0; i < t.size(); i++) {
                    t.setFlat(i, 0);
                }
            });
            Examples data = new Examples(x, new int[] {0, 1, 2, 0, 2}, 3);
            double[] ce = Trainer.evaluate(m, p, data, Loss.CROSS_ENTROPY, 2);
            assertThat(ce[0]).isCloseTo(Math.log(3) / 3, org.assertj.core.data.Offset.offset(1e-15));
            assertThat(ce[1]).isEqualTo(0.4);
            assertThat(Trainer.evaluate(m, p, data, Loss.MSE, 2)[0]).isCloseTo(1.0 / 6,
                    org.assertj.core.data.Offset.offset(1e-15));
        }
    }

    /**
     * A long-running program that evaluates and trains again and again: each evaluation and each run closes the
     * constants of the graphs it traced (they were left to the collector, {@link Tensor#liveBytes()} growing by the
     * traces' scalars with every call).
     */
    @Test
    void evaluationsAndRunsLeaveNoLiveBytes() throws Exception {
        Model m = Zoo.parse("fcn(depth=1,width=4,out=3)");
        try (Params p = m.init(0, new int[] {2}, DType.F64);
             Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 2)) {
            Examples data = new Examples(x, new int[] {0, 1, 2, 0, 2}, 3);
            long baseline = Tensor.liveBytes();
            double[] first = Trainer.evaluate(m, p, data, Loss.CROSS_ENTROPY, 2);
            assertThat(Tensor.liveBytes()).as("after an evaluation").isEqualTo(baseline);
            for (int call = 0; call < 3; call++) {
                assertThat(Trainer.evaluate(m, p, data, Loss.CROSS_ENTROPY, 2)).containsExactly(first);
                assertThat(Tensor.liveBytes()).as("after evaluation %d", call).isEqualTo(baseline);
                TrainConfig c = TrainConfig.builder().learningRate(0.1).batchSize(2).epochs(1).seed(1).build();
                try (TrainResult r = Trainer.train(m, p, data, data, c, Listener.NONE)) {
                    assertThat(r.params().get(p.tensors().keySet().iterator().next()).isClosed()).isFalse();
                }
                assertThat(Tensor.liveBytes()).as("after run %d", call).isEqualTo(baseline);
            }
        }
    }

    /**
     * Test examples on which the network's float32 outputs overflow (weights of 1, inputs of 2e38: outputs of 6e38)
     * while the parameters and the training loss are finite: the run stops at that evaluation, in one line naming
     * it, before its figures reach the curves or a checkpoint (it went on with a test loss of NaN or ∞).
     */
    @Test
    void aTestLossThatOverflowsStopsTheRun() throws Exception {
        List<String> checkpoints = new ArrayList<>();
        Listener keep = new Listener() {
            @Override
            public void checkpoint(TrainState state, String name) {
                checkpoints.add(name);
            }
        };
        Model linear = Zoo.parse("fcn(depth=0,out=2,param=standard)");
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.sgd(0, 0)).loss(Loss.CROSS_ENTROPY)
                .learningRate(0.1).batchSize(2).epochs(1).checkpointEpochs(Set.of(0, 1)).build();
        try (Params init = linear.init(0, new int[] {3}, DType.F32);
             Tensor x64 = Tensor.of(new double[] {1, -1, 0.5, -0.5, 1, 1}, 2, 3);
             Tensor x = x64.to(DType.F32);
             Tensor t64 = Tensor.full(DType.F64, 2e38, 2, 3);
             Tensor xTest = t64.to(DType.F32)) {
            Tensor w = init.get("1_dense/w");
            for (int i = 0; i < w.size(); i++) {
                w.setFlat(i, 1.0);
            }
            Examples train = new Examples(x, new int[] {0, 1}, 2);
            Examples test = new Examples(xTest, new int[] {0, 1}, 2);
            assertThatThrownBy(() -> Trainer.train(linear, init, train, test, c, keep).close())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("train: the loss on the test examples at the initial parameters is NaN: the "
                            + "network's outputs there overflow f32; check the test inputs' scale (--standardize)");
            assertThat(checkpoints).isEmpty();
            // the same test examples at a tenth of the scale: finite outputs, the run completes
            try (Tensor small = Tensor.full(DType.F64, 2e37, 2, 3); Tensor xSmall = small.to(DType.F32);
                 TrainResult r = Trainer.train(linear, init, train, new Examples(xSmall, new int[] {0, 1}, 2), c,
                         keep)) {
                assertThat(r.curves()).allSatisfy(m -> assertThat(m.testLoss()).isFinite());
            }
        }
    }

    /**
     * A learning rate far too large: one step makes the float32 weights ±∞ (|η·gradient| > 3.4e38, the MSE's
     * gradient of outputs near ±100) from a finite loss. The run stops at the next step's non-finite loss, before
     * updating from it; at a step checkpoint due before that; at the end of the epoch when that step was its last;
     * in one line naming the step. No checkpoint with a non-finite value is handed out.
     */
    @Test
    void aDivergingRunStopsAtTheStepItDiverges() throws Exception {
        List<String> checkpoints = new ArrayList<>();
        Listener keep = new Listener() {
            @Override
            public void checkpoint(TrainState state, String name) {
                for (Tensor t : state.params().tensors().values()) {
                    assertThat(t.firstNonFinite()).as(name).isEqualTo(-1);
                }
                checkpoints.add(name);
            }
        };
        Model linear = Zoo.parse("fcn(depth=0,out=2,param=standard)");
        TrainConfig huge = TrainConfig.builder().optimizer(Optimizer.sgd(0, 0)).loss(Loss.MSE).learningRate(1e38)
                .batchSize(1)
                .epochs(1).checkpointEpochs(Set.of(0, 1)).build();
        String rest = " \\(learning rate 1\\.0E38\\); lower --lr \\(the checkpoints written before are kept\\)";
        try (Params init = linear.init(0, new int[] {3}, DType.F32);
             Tensor x64 = Tensor.of(new double[] {100, -100, 100, -100, 100, 100}, 2, 3);
             Tensor x = x64.to(DType.F32)) {
            Examples train = new Examples(x, new int[] {0, 1}, 2);
            assertThatThrownBy(() -> Trainer.train(linear, init, train, null, huge, keep).close())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageMatching("train: the run diverged: the loss of step 2 \\(epoch 1\\) is "
                            + "(NaN|-?Infinity)" + rest);
            assertThat(checkpoints).containsExactly("epoch-0000");
            checkpoints.clear();
            String params = "train: the run diverged: after step 1 \\(epoch 1\\) parameter '1_dense/w' holds "
                    + "-?Infinity at flat index \\d" + rest;
            assertThatThrownBy(() -> Trainer.train(linear, init, train, null,
                    huge.toBuilder().checkpointEverySteps(1).build(), keep).close())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageMatching(params);
            assertThat(checkpoints).containsExactly("epoch-0000");
            checkpoints.clear();
            try (Tensor first = Layout.sliceAxis(x, 0, 0, 1)) {
                assertThatThrownBy(() -> Trainer.train(linear, init, new Examples(first, new int[] {0}, 2), null,
                        huge, keep).close()).isInstanceOf(IllegalArgumentException.class).hasMessageMatching(params);
            }
            assertThat(checkpoints).containsExactly("epoch-0000");
        }
    }

    /**
     * The model's constants (batch-norm running statistics) go with the parameters of every checkpoint, and a
     * resume computes with the checkpoint's, whatever the model given to it holds: the uninterrupted run's bits,
     * its test figures included (the evaluation used the model given, with its default statistics).
     */
    @Test
    void checkpointsCarryTheModelsBatchNormStatistics() throws Exception {
        Model plain = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(4),
                org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.relu(), org.ntk4j.nn.Layers.dense(3)),
                "bn-net");
        int[] in = {3};
        int[] labels = {0, 1, 2, 0, 1, 2};
        List<TrainState> states = new ArrayList<>();
        Listener keep = new Listener() {
            @Override
            public void checkpoint(TrainState state, String name) {
                states.add(state.copy());
            }
        };
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0)).learningRate(0.05)
                .batchSize(4).epochs(2).checkpointEpochs(Set.of(1)).build();
        try (Params init = plain.init(1, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 4, 6, 3)) {
            Map<String, Tensor> stats = new java.util.LinkedHashMap<>();
            init.buffers().forEach((k, v) -> stats.put(k, Tensor.full(DType.F64, k.endsWith("var") ? 4 : 0.5,
                    v.shape())));
            Model withStats = plain.withBuffers(stats);
            Examples train = new Examples(x, labels, 3);
            try (TrainResult full = Trainer.train(withStats, init, train, train, c, keep);
                 TrainResult defaults = Trainer.train(plain, init, train, null, c, Listener.NONE)) {
                assertThat(full.params().get("3_dense/w").toDoubleArray())
                        .as("the statistics change the training").isNotEqualTo(
                                defaults.params().get("3_dense/w").toDoubleArray());
                assertThat(states).hasSize(1);
                assertThat(states.get(0).params().buffers().keySet()).isEqualTo(stats.keySet());
                for (String k : stats.keySet()) {
                    assertThat(states.get(0).params().buffers().get(k).toDoubleArray())
                            .containsExactly(stats.get(k).toDoubleArray());
                    assertThat(full.params().buffers().get(k).toDoubleArray())
                            .containsExactly(stats.get(k).toDoubleArray());
                }
                try (TrainResult resumed = Trainer.resume(plain, states.get(0), train, train, c, Listener.NONE)) {
                    for (String k : full.params().tensors().keySet()) {
                        assertThat(resumed.params().get(k).toDoubleArray()).as(k)
                                .containsExactly(full.params().get(k).toDoubleArray());
                    }
                    EpochMetrics last = full.curves().get(full.curves().size() - 1);
                    EpochMetrics lastResumed = resumed.curves().get(resumed.curves().size() - 1);
                    assertThat(lastResumed.epoch()).isEqualTo(2);
                    assertThat(lastResumed.testLoss()).isEqualTo(last.testLoss());
                    // and Trainer.evaluate computes with the parameters' statistics too
                    assertThat(Trainer.evaluate(plain, full.params(), train, Loss.CROSS_ENTROPY, 4)[0])
                            .isEqualTo(last.testLoss())
                            .isNotEqualTo(Trainer.evaluate(plain, new Params(full.params().tensors(), Map.of()),
                                    train, Loss.CROSS_ENTROPY, 4)[0]);
                }
            } finally {
                states.forEach(TrainState::close);
                stats.values().forEach(Tensor::close);
            }
        }
    }

    /**
     * A parameter whose storage a listener took during training stays untracked after the later steps (that handle
     * may still write); the others are tracked.
     */
    @Test
    void aParameterHandedOutDuringTrainingStaysUntracked() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=2,param=standard)");
        try (Params init = m.init(3, new int[] {3}, DType.F64);
             Tensor x = Tensor.of(new double[] {0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, 2, 3)) {
            List<String> paths = new ArrayList<>(init.tensors().keySet());
            TrainConfig c = TrainConfig.builder().optimizer(Optimizer.sgd(0.0, 0.0)).learningRate(0.1).batchSize(2)
                    .epochs(3).seed(1).build();
            long[][] tracked = new long[4][];
            Listener takesTheWeights = new Listener() {
                @Override
                public void epochDone(int epoch, Params params, EpochMetrics metrics) {
                    // the live parameters, as a study computing kernels through training sees them
                    tracked[epoch] = new long[] {params.get(paths.get(0)).trackedWrites(),
                        params.get(paths.get(1)).trackedWrites()};
                    if (epoch == 1) {
                        params.get(paths.get(0)).doubles(); // a handle that could write at any later time
                    }
                }
            };
            try (TrainResult r = Trainer.train(m, init, new Examples(x, new int[] {0, 1}, 2), null, c,
                    takesTheWeights)) {
                assertThat(tracked[1][0]).as("after a step, tracked").isNotNegative();
                assertThat(tracked[1][1]).as("after a step, tracked").isNotNegative();
                assertThat(tracked[2][0]).as("handed out at epoch 1").isEqualTo(-1);
                assertThat(tracked[3][0]).isEqualTo(-1);
                assertThat(tracked[3][1]).isNotNegative();
            }
        }
    }

    /**
     * A gradient with (1 − β2) g² past float32's range (2.5e37 for w: inputs of 5e18, outputs of 5e18 on the MSE,
     * whose loss, 1.25e37, is finite) makes Adam's second moment v = (1 − β2) g² +∞, while the parameter stays finite
     * (its step m / √v is 0: it is frozen from then on) and the loss finite: the run went on and wrote v = ∞ into
     * its checkpoints and its final state. It stops at the epoch's end, in one line naming the buffer, before a
     * checkpoint of it is handed out; the same run at inputs of 1e9 (a gradient of 1e18) completes.
     */
    @Test
    void anAdamSecondMomentThatOverflowsStopsTheRun() throws Exception {
        List<String> checkpoints = new ArrayList<>();
        Listener keep = new Listener() {
            @Override
            public void checkpoint(TrainState state, String name) {
                for (Map.Entry<String, Tensor> e : state.buffers().entrySet()) {
                    assertThat(e.getValue().firstNonFinite()).as("%s %s", name, e.getKey()).isEqualTo(-1);
                }
                checkpoints.add(name);
            }
        };
        Model linear = Zoo.parse("fcn(depth=0,out=1,param=standard)");
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0)).loss(Loss.MSE)
                .learningRate(0.1).batchSize(2).epochs(1).checkpointEpochs(Set.of(1)).build();
        int[] labels = {0, 0};
        try (Params init = linear.init(0, new int[] {1}, DType.F32);
             Tensor big64 = Tensor.full(DType.F64, 5e18, 2, 1); Tensor big = big64.to(DType.F32);
             Tensor small64 = Tensor.full(DType.F64, 1e9, 2, 1); Tensor small = small64.to(DType.F32)) {
            init.get("1_dense/w").setFlat(0, 1.0);
            init.get("1_dense/b").setFlat(0, 0.0);
            assertThatThrownBy(() -> Trainer.train(linear, init, new Examples(big, labels, 1), null, c, keep).close())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("train: the run diverged: after step 1 (epoch 1) the optimizer's buffer "
                            + "'optimizer/v/1_dense/w' holds Infinity at flat index 0 (a gradient or its square past "
                            + "f32's range; learning rate 0.1); lower --lr (the checkpoints written before are kept)");
            assertThat(checkpoints).isEmpty();
            try (TrainResult r = Trainer.train(linear, init, new Examples(small, labels, 1), null, c, keep)) {
                assertThat(r.curves().get(1).trainLoss()).isFinite();
            }
            assertThat(checkpoints).containsExactly("epoch-0001");
        }
    }

    @Test
    void aResumedRunEqualsTheUninterruptedOneBitForBit() throws Exception {
        Model m = Zoo.parse("fcn(depth=1,width=16,out=3)");
        int n = 50;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 3;
        }
        List<TrainState> states = new ArrayList<>();
        List<TrainState> finals = new ArrayList<>();
        Listener keep = new Listener() {
            @Override
            public void checkpoint(TrainState state, String name) {
                states.add(state.copy());
            }

            @Override
            public void finished(TrainState state) {
                finals.add(state.copy());
            }
        };
        for (Optimizer o : List.of(Optimizer.sgd(0.9, 1e-3), Optimizer.adam(0.9, 0.999, 1e-8, 0))) {
            TrainConfig c = TrainConfig.builder().optimizer(o).learningRate(0.05).batchSize(8).epochs(3).seed(11)
                    .schedule(Schedule.cosine()).checkpointEverySteps(5).checkpointEpochs(Set.of(1)).build();
            try (Params init = m.init(5, IN, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 9, n, 4, 3);
                    Tensor xt = Tensor.randomNormal(DType.F32, 10, 9, 4, 3)) {
                Examples train = new Examples(x, labels, 3);
                Examples test = new Examples(xt, new int[] {0, 1, 2, 0, 1, 2, 0, 1, 2}, 3);
                states.clear();
                finals.clear();
                try (TrainResult full = Trainer.train(m, init, train, test, c, keep)) {
                    // 7 steps per epoch, 21 in all: steps 5, 10, 15, 20 and the end of epoch 1
                    assertThat(states).extracting(TrainState::step).containsExactly(5L, 7L, 10L, 15L, 20L);
                    // the final state, once: the end of epoch 3 with the result's parameters; a resume from it
                    // trains nothing and gives them back
                    assertThat(finals).hasSize(1);
                    TrainState last = finals.get(0);
                    assertThat(new long[] {last.epoch(), last.stepInEpoch(), last.step(), last.lossCount()})
                            .containsExactly(3, 0, 21, 0);
                    assertThat(last.history()).hasSize(4);
                    states.add(last);
                    for (TrainState s : states) {
                        try (TrainResult resumed = Trainer.resume(m, s, train, test, c, Listener.NONE)) {
                            for (String k : full.params().tensors().keySet()) {
                                assertThat(resumed.params().get(k).toFloatArray())
                                        .containsExactly(full.params().get(k).toFloatArray());
                            }
                            assertThat(resumed.curves()).extracting(EpochMetrics::trainLoss)
                                    .containsExactlyElementsOf(full.curves().stream().map(EpochMetrics::trainLoss)
                                            .toList());
                        }
                    }
                    try (TrainResult again = Trainer.train(m, init, train, test, c, Listener.NONE)) {
                        for (String k : full.params().tensors().keySet()) {
                            assertThat(again.params().get(k).toFloatArray())
                                    .containsExactly(full.params().get(k).toFloatArray());
                        }
                    }
                } finally {
                    states.forEach(TrainState::close);
                }
                TrainConfig other = c.toBuilder().seed(12).build();
                assertThatThrownBy(() -> {
                    try (TrainState s = new TrainState(m.init(5, IN, DType.F32), Map.of(), 0, 0, 0, 0, 0, List.of(),
                            c.describe())) {
                        Trainer.resume(m, s, train, test, other, Listener.NONE);
                    }
                }).hasMessage("--resume: the checkpoint was taken with seed 11; this run has seed 12 (the "
                        + "checkpoint's settings: " + c.describe() + ")");
            }
        }
    }

    /**
     * A checkpoint whose optimizer buffer has another shape than its parameter (a state file not written by this
     * run's model) is refused in one line naming the buffer, before any step (an IndexOutOfBoundsException of the
     * update before), and one whose buffer holds NaN or ±∞ is refused as well (a state written by another program, or
     * before 2026-12-07, when an overflowing Adam second moment was not caught).
     */
    @Test
    void aResumeFromBuffersThatDoNotFitIsRefused() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.sgd(0.9, 0)).learningRate(0.05).batchSize(4)
                .epochs(2).build();
        try (Tensor x = Tensor.randomNormal(DType.F64, 9, 8, 2)) {
            Examples train = new Examples(x, new int[] {0, 1, 2, 0, 1, 2, 0, 1}, 3);
            for (boolean wrongShape : new boolean[] {true, false}) {
                assertThatThrownBy(() -> {
                    try (Params p = m.init(5, new int[] {2}, DType.F64);
                         Tensor bw = wrongShape ? Tensor.zeros(DType.F64, 3, 2) : Tensor.zeros(DType.F64, 2, 3);
                         Tensor bb = Tensor.zeros(DType.F64, 3)) {
                        if (!wrongShape) {
                            bw.setFlat(4, Double.POSITIVE_INFINITY);
                        }
                        Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
                        buffers.put("optimizer/momentum/1_dense/w", bw);
                        buffers.put("optimizer/momentum/1_dense/b", bb);
                        TrainState s = new TrainState(p, buffers, 1, 0, 2, 0, 0, List.of(), c.describe());
                        Trainer.resume(m, s, train, null, c, Listener.NONE).close();
                    }
                }).isInstanceOf(IllegalArgumentException.class).hasMessage(wrongShape
                        ? "--resume: the checkpoint's optimizer/momentum/1_dense/w has shape [3, 2], its parameter "
                            + "1_dense/w [2, 3]"
                        : "--resume: the checkpoint's optimizer/momentum/1_dense/w holds Infinity at flat index 4: "
                            + "the run had diverged by then; resume from an earlier checkpoint, or train again with a "
                            + "lower --lr");
            }
        }
    }

    /**
     * No training examples, or no test examples, is refused in one line: the run trained nothing and reported a train
     * loss of NaN, and an empty test set a test loss of 0/0, which was taken for outputs that overflow.
     */
    @Test
    void emptyExamplesAreRefused() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        TrainConfig c = TrainConfig.builder().learningRate(0.05).batchSize(4).epochs(1).build();
        try (Params p = m.init(5, new int[] {2}, DType.F64); Tensor none = Tensor.zeros(DType.F64, 0, 2);
             Tensor x = Tensor.randomNormal(DType.F64, 9, 4, 2)) {
            Examples empty = new Examples(none, new int[0], 3);
            Examples some = new Examples(x, new int[] {0, 1, 2, 0}, 3);
            assertThatThrownBy(() -> Trainer.train(m, p, empty, null, c, Listener.NONE).close())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("train: expected at least 1 training example, got 0");
            assertThatThrownBy(() -> Trainer.train(m, p, some, empty, c, Listener.NONE).close())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("train: expected at least 1 test example (or none given), got 0");
        }
    }

    /**
     * A checkpoint's position must be one the run's data and batch give (step = epoch × steps per epoch + step in
     * epoch): resumed on 12 examples, a checkpoint taken at the end of epoch 1 of 8 examples in batches of 4 (step 2)
     * went on with Adam's step count and the schedule 1 step behind the epochs; it is refused, naming both.
     */
    @Test
    void aResumeAtAPositionTheDataDoNotGiveIsRefused() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0)).learningRate(0.05)
                .batchSize(4).epochs(2).build();
        List<TrainState> states = new ArrayList<>();
        Listener keep = new Listener() {
            @Override
            public void finished(TrainState state) {
                states.add(state.copy());
            }
        };
        try (Params p = m.init(5, new int[] {2}, DType.F64); Tensor x8 = Tensor.randomNormal(DType.F64, 9, 8, 2);
             Tensor x12 = Tensor.randomNormal(DType.F64, 9, 12, 2)) {
            Trainer.train(m, p, new Examples(x8, new int[] {0, 1, 2, 0, 1, 2, 0, 1}, 3), null,
                    c.toBuilder().epochs(1).build(), keep).close();
            try (TrainState s = states.get(0)) {
                assertThat(s.step()).isEqualTo(2);
                Examples twelve = new Examples(x12, new int[] {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, 3);
                assertThatThrownBy(() -> Trainer.resume(m, s, twelve, null, c, Listener.NONE).close())
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("--resume: the checkpoint is at step 2, after epoch 1 and 0 steps of the next, "
                                + "which 12 examples in batches of 4 (3 steps per epoch) do not give: is this the "
                                + "run's training data?");
            }
        }
    }

    /**
     * A state whose optimizer buffers are of another dtype than their parameters (a library {@link TrainState}:
     * Checkpoints.load converts them to the run's) is refused in one line naming the buffer and both dtypes, for
     * SGD's momentum and Adam's moments, either way round; the update read them as the parameter's dtype and
     * stopped in the first step with an IllegalStateException ("doubles() on a f32 tensor").
     */
    @Test
    void aResumeFromBuffersOfAnotherDtypeIsRefused() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        TrainConfig base = TrainConfig.builder().learningRate(0.05).batchSize(4).epochs(2).build();
        for (Optimizer o : new Optimizer[] {Optimizer.sgd(0.9, 0), Optimizer.adam(0.9, 0.999, 1e-8, 0)}) {
            TrainConfig c = base.toBuilder().optimizer(o).build();
            for (DType dtype : new DType[] {DType.F64, DType.F32}) {
                DType other = dtype == DType.F64 ? DType.F32 : DType.F64;
                try (Tensor x = Tensor.randomNormal(dtype, 9, 8, 2)) {
                    Examples train = new Examples(x, new int[] {0, 1, 2, 0, 1, 2, 0, 1}, 3);
                    assertThatThrownBy(() -> {
                        Params p = m.init(5, new int[] {2}, dtype);
                        Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
                        for (String b : o.bufferNames()) {
                            // the first buffer of the first parameter in the other dtype, the rest in the run's
                            boolean first = buffers.isEmpty();
                            buffers.put(Trainer.bufferName(b, "1_dense/w"), Tensor.zeros(first ? other : dtype, 2, 3));
                            buffers.put(Trainer.bufferName(b, "1_dense/b"), Tensor.zeros(dtype, 3));
                        }
                        try (TrainState s = new TrainState(p, buffers, 1, 0, 2, 0, 0, List.of(), c.describe())) {
                            Trainer.resume(m, s, train, null, c, Listener.NONE).close();
                        }
                    }).as("%s %s", o.describe(), dtype).isInstanceOf(IllegalArgumentException.class)
                            .hasMessage("--resume: the checkpoint's optimizer/" + o.bufferNames()[0] + "/1_dense/w is "
                                    + other.shortName() + ", its parameter 1_dense/w " + dtype.shortName()
                                    + " (convert the buffers to the parameters' dtype)");
                }
            }
        }
    }

    /**
     * A position no run writes, negative, is refused in one line: epoch 1 with step -1 into the next (step 1 = 1 × 2
     * − 1 passed the check of the position against the data, and the first batch started at index −4), and epoch
     * −1 at step −2 (which passed too, and trained an epoch 0 before epoch 1).
     */
    @Test
    void aResumeAtANegativePositionIsRefused() throws Exception {
        Model m = Zoo.parse("fcn(depth=0,out=3,param=standard)");
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0)).learningRate(0.05)
                .batchSize(4).epochs(2).build();
        long[][] positions = {{1, -1, 1}, {-1, 0, -2}};
        try (Tensor x = Tensor.randomNormal(DType.F64, 9, 8, 2)) {
            Examples train = new Examples(x, new int[] {0, 1, 2, 0, 1, 2, 0, 1}, 3);
            for (long[] pos : positions) {
                assertThatThrownBy(() -> {
                    Params p = m.init(5, new int[] {2}, DType.F64);
                    Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
                    for (String b : new String[] {"m", "v"}) {
                        buffers.put(Trainer.bufferName(b, "1_dense/w"), Tensor.zeros(DType.F64, 2, 3));
                        buffers.put(Trainer.bufferName(b, "1_dense/b"), Tensor.zeros(DType.F64, 3));
                    }
                    try (TrainState s = new TrainState(p, buffers, (int) pos[0], pos[1], pos[2], 0, 0, List.of(),
                            c.describe())) {
                        Trainer.resume(m, s, train, null, c, Listener.NONE).close();
                    }
                }).isInstanceOf(IllegalArgumentException.class).hasMessage(String.format(java.util.Locale.ROOT,
                        "--resume: the checkpoint's position is negative (epoch %d, %d steps into the next, step %d): "
                                + "not a state a run writes", pos[0], pos[1], pos[2]));
            }
        }
    }

    @Test
    void aResumePastTheRunsLastEpochIsRefused() throws Exception {
        Model m = Zoo.parse("fcn(depth=1,width=16,out=3)");
        TrainConfig c = TrainConfig.builder().learningRate(0.05).batchSize(4).epochs(1).build();
        try (Tensor x = Tensor.randomNormal(DType.F32, 9, 8, 4, 3)) {
            Examples train = new Examples(x, new int[] {0, 1, 2, 0, 1, 2, 0, 1}, 3);
            // the end of epoch 2, and a step into epoch 2 (past epoch 1's end, too)
            for (long[] at : new long[][] {{2, 0, 4}, {1, 1, 3}}) {
                assertThatThrownBy(() -> {
                    try (TrainState s = new TrainState(m.init(5, IN, DType.F32), Map.of(), (int) at[0], at[1], at[2],
                            0, 0, List.of(), c.describe())) {
                        Trainer.resume(m, s, train, null, c, Listener.NONE);
                    }
                }).hasMessage(at[1] == 0
                        ? "--resume: the checkpoint is at the end of epoch 2, past --epochs 1 (a resumed run may "
                            + "train longer, not shorter)"
                        : "--resume: the checkpoint is at step 1 of epoch 2, past --epochs 1 (a resumed run may "
                            + "train longer, not shorter)");
            }
        }
    }

    @Test
    void schedulesAndPermutations() {
        assertThat(Schedule.parse("step:2:0.1").factor(9, 4, 100)).isCloseTo(0.1, org.assertj.core.data.Offset
                .offset(1e-15));
        assertThat(Schedule.parse("cosine").factor(50, 4, 100)).isCloseTo(0.5, org.assertj.core.data.Offset
                .offset(1e-15));
        assertThat(Schedule.parse("constant").factor(50, 4, 100)).isEqualTo(1);
        assertThatThrownBy(() -> Schedule.parse("linear")).hasMessageStartingWith("--schedule: expected");
        int[] p = Trainer.permutation(1, 1, 100);
        assertThat(p).containsExactlyInAnyOrder(java.util.stream.IntStream.range(0, 100).toArray());
        assertThat(Trainer.permutation(1, 1, 100)).containsExactly(p);
        assertThat(Trainer.permutation(1, 2, 100)).isNotEqualTo(p);
    }

    /**
     * Parameters that carry buffers (a parameter file's or a checkpoint's batch-norm running statistics, far from
     * the defaults mean 0, variance 1) describe the network {@link Model#apply} evaluates with them: given to a model
     * that holds no buffers of its own, the run trains that network. Its epoch-0 test loss is {@link
     * Trainer#evaluate} of those parameters, one full-batch SGD step is θ0 − η·{@link Trainer#lossAndGradient} (to
     * 1e-12, float64), and the result carries the statistics. Before, the run took the model's defaults and dropped
     * the parameters' statistics.
     */
    @Test
    void theParametersBuffersAreTheNetworkTrained() throws Exception {
        Model m = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(3),
                org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.tanh(), org.ntk4j.nn.Layers.dense(2)),
                "dense-bn-tanh-dense");
        int[] in = {4};
        Map<String, Tensor> tensors = new java.util.LinkedHashMap<>();
        try (Params p0 = m.init(1, in, DType.F64)) {
            p0.tensors().forEach((k, v) -> tensors.put(k, v.copy()));
        }
        Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
        for (org.ntk4j.nn.ParamSpec s : m.bufferSpecs(in)) {
            boolean mean = s.path().endsWith("running_mean");
            buffers.put(s.path(), Tensor.of(mean ? new double[] {0.5, -1, 2} : new double[] {2, 0.5, 3}, 3));
        }
        assertThat(buffers).hasSize(2);
        int[] labels = {0, 1, 1, 0, 1, 0};
        double lr = 0.2;
        try (Params init = new Params(tensors, buffers); Tensor x = Tensor.randomNormal(DType.F64, 7, 6, 4);
             Tensor y = Tensor.zeros(DType.F64, 6, 2)) {
            for (int i = 0; i < labels.length; i++) {
                y.setFlat(i * 2 + labels[i], 1);
            }
            Examples data = new Examples(x, labels, 2);
            TrainConfig c = TrainConfig.builder().learningRate(lr).batchSize(6).epochs(1).seed(1).evalBatchSize(6)
                    .build();
            double[] initial = Trainer.evaluate(m, init, data, c.loss(), 6);
            try (TrainResult r = Trainer.train(m, init, data, data, c, Listener.NONE);
                 Trainer.LossGradient lg = Trainer.lossAndGradient(m, init, x, y, c.loss())) {
                assertThat(r.curves().get(0).testLoss()).as("epoch 0: the parameters' network")
                        .isCloseTo(initial[0], org.assertj.core.data.Offset.offset(1e-12));
                for (Map.Entry<String, Tensor> e : init.tensors().entrySet()) {
                    Tensor g = lg.gradient().get(e.getKey());
                    Tensor got = r.params().get(e.getKey());
                    for (int i = 0; i < g.size(); i++) {
                        double want = e.getValue().getFlat(i) - lr * g.getFlat(i);
                        assertThat(got.getFlat(i)).as("%s[%d]", e.getKey(), i)
                                .isCloseTo(want, org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
                assertThat(r.params().buffers()).containsOnlyKeys(buffers.keySet());
                for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
                    assertThat(r.params().buffers().get(e.getKey()).toDoubleArray())
                            .containsExactly(e.getValue().toDoubleArray());
                }
            }
        }
    }

    /**
     * A dense → batch_norm_eval → relu → dense network (standard parameterisation) from fixed parameters and running
     * statistics, 3 epochs in batches of 3 over 6 examples, against PyTorch 1.13 in float64 ({@code
     * torch_batch_norm_oracle.py} in this package's test resources prints the figures): by default the batch norm
     * trains frozen, as PyTorch's in {@code eval()} (normalised by the running statistics, which stay as given: SGD
     * with momentum and weight decay); with {@link TrainConfig.Builder#batchNormTraining} as PyTorch's in {@code
     * train()} (normalised by each batch's mean and biased variance, the running statistics updated with momentum 0.1
     * and the unbiased variance: Adam with weight decay), the running statistics, the parameters and the epochs'
     * losses PyTorch's to 1e-13, and the test figures those of PyTorch's {@code eval()} with the final running
     * statistics.
     */
    @Test
    void batchNormsTrainFrozenOrInTrainingModeAsPyTorch() throws Exception {
        Model m = new Model(org.ntk4j.nn.Layers.serial(
                org.ntk4j.nn.Layers.dense(4, 1, 1, org.ntk4j.nn.Parameterization.STANDARD),
                org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.relu(),
                org.ntk4j.nn.Layers.dense(3, 1, 1, org.ntk4j.nn.Parameterization.STANDARD)), "bn-net");
        int[] labels = {0, 2, 1, 2, 0, 1};
        for (int e = 1; e <= 3; e++) {
            assertThat(Trainer.permutation(5, e, 6)).containsExactly(new int[][] {{5, 2, 4, 0, 1, 3},
                {3, 0, 2, 4, 1, 5}, {3, 5, 1, 0, 4, 2}}[e - 1]);
        }
        Map<String, Tensor> p = new java.util.LinkedHashMap<>();
        p.put("0_dense/w", Tensor.of(new double[] {0.4, -0.3, 0.2, 0.5, 0.1, 0.6, -0.5, 0.3}, 2, 4));
        p.put("0_dense/b", Tensor.of(new double[] {0.05, -0.1, 0.2, 0.15}, 4));
        p.put("1_batch_norm_eval/scale", Tensor.of(new double[] {1.1, 0.9, 1.3, 0.7}, 4));
        p.put("1_batch_norm_eval/shift", Tensor.of(new double[] {0.1, -0.2, 0.0, 0.3}, 4));
        p.put("3_dense/w", Tensor.of(new double[] {0.3, -0.2, 0.1, 0.5, 0.4, -0.6, -0.3, 0.2, 0.7, 0.2, -0.5, 0.4},
                4, 3));
        p.put("3_dense/b", Tensor.of(new double[] {0.0, 0.1, -0.1}, 3));
        Map<String, Tensor> stats = new java.util.LinkedHashMap<>();
        stats.put("1_batch_norm_eval/running_mean", Tensor.of(new double[] {0.2, -0.1, 0.3, 0.0}, 4));
        stats.put("1_batch_norm_eval/running_var", Tensor.of(new double[] {1.5, 0.5, 2.0, 0.8}, 4));
        TrainConfig.Builder base = TrainConfig.builder().batchSize(3).epochs(3).seed(5).loss(Loss.CROSS_ENTROPY);
        TrainConfig frozen = base.optimizer(Optimizer.sgd(0.9, 0.01)).learningRate(0.3).build();
        TrainConfig training = base.optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0.01)).learningRate(0.05)
                .batchNormTraining(true).build();
        assertThat(frozen.describe()).doesNotContain("batch norm");
        assertThat(training.describe()).endsWith(", batch norm train");
        double[][] frozenParams = {
            {0.30996927974652283, 0.05774976855658377, 0.11378110361585132, 0.3948361866234707, 0.0872593506090406,
                0.1638469054766221, -0.328647333707181, 0.47748818069732624},
            {0.06270541768196035, -0.4168142147346905, 0.04056942943055074, -0.008471434053219257},
            {1.013752781532827, 0.47395286225501426, 1.1799788590029763, 0.6715431985091176},
            {0.11197234512123316, -0.44832097134108134, -0.16398631482947862, 0.09039507448321069},
            {0.17859146894842065, -0.15545889294709103, 0.16627650782198014, 0.34518217172068566, 0.23185432066490366,
                -0.2929228666506245, -0.25113974752003576, 0.2506749595915235, 0.5686920393984419,
                0.0697277885706418, -0.3946205123442234, 0.41959726568523653},
            {-0.08379854269724693, 0.17773519964441642, -0.09393665694716943}};
        double[] frozenLosses = {0.4647564109036931, 0.41571355491232803, 0.3643156770269235};
        double[][] trainedParams = {
            {0.22932236288550514, -0.17350977017582284, 0.28786202945274514, 0.33331991184171034, 0.22866843767205883,
                0.6112642360806005, -0.28557337998699556, 0.4479958648883647},
            {0.012867669099047983, 0.05110947252891809, -0.05749848719415874, -0.07269481447547338},
            {0.8620756785712074, 0.7674787739648845, 1.0474923225592527, 0.5826562678501385},
            {-0.10046836170359881, -0.32317801180019684, -0.23132305830145472, 0.13572162661514103},
            {0.09593951271549914, -0.06589913759745625, 0.07257667195445479, 0.4581403083634623, 0.10898588092913986,
                -0.46181045434254986, -0.23743937180640504, 0.3568770391674664, 0.410606472584779,
                0.13264168490169984, -0.3588068492104729, 0.3622985969312072},
            {-0.09358674356297977, 0.15899943086835341, -0.13640134296372508}};
        double[] trainedLosses = {0.5056394984257634, 0.45809219898218306, 0.3702690449144617};
        double[] runningMean = {0.17104169696098612, -0.037725417619400195, 0.19951359410883213, 0.11643131143387203};
        double[] runningVar = {0.8863867008208681, 0.49894926582824534, 1.1902572721579425, 0.6151665978859061};
        List<String> paths = List.copyOf(p.keySet());
        try (Params init = new Params(p, stats);
             Tensor x = Tensor.of(new double[] {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.3, 0.7, 1.2, -0.4}, 6,
                     2)) {
            Examples train = new Examples(x, labels, 3);
            try (TrainResult r = Trainer.train(m, init, train, null, frozen, Listener.NONE)) {
                for (int i = 0; i < paths.size(); i++) {
                    assertThat(r.params().get(paths.get(i)).toDoubleArray()).as("frozen " + paths.get(i))
                            .containsExactly(frozenParams[i], org.assertj.core.data.Offset.offset(1e-13));
                }
                assertThat(r.curves().subList(1, 4).stream().mapToDouble(EpochMetrics::trainLoss).toArray())
                        .containsExactly(frozenLosses, org.assertj.core.data.Offset.offset(1e-14));
                for (String k : stats.keySet()) {
                    assertThat(r.params().buffers().get(k).toDoubleArray()).containsExactly(stats.get(k)
                            .toDoubleArray());
                }
            }
            List<TrainState> states = new ArrayList<>();
            Listener keep = new Listener() {
                @Override
                public void checkpoint(TrainState state, String name) {
                    states.add(state.copy());
                }
            };
            try (TrainResult r = Trainer.train(m, init, train, train, training.toBuilder().checkpointEverySteps(3)
                    .build(), keep)) {
                for (int i = 0; i < paths.size(); i++) {
                    assertThat(r.params().get(paths.get(i)).toDoubleArray()).as("train() " + paths.get(i))
                            .containsExactly(trainedParams[i], org.assertj.core.data.Offset.offset(1e-13));
                }
                double[] losses = r.curves().subList(1, 4).stream().mapToDouble(EpochMetrics::trainLoss).toArray();
                assertThat(losses).containsExactly(trainedLosses, org.assertj.core.data.Offset.offset(1e-14));
                assertThat(r.params().buffers().get("1_batch_norm_eval/running_mean").toDoubleArray())
                        .containsExactly(runningMean, org.assertj.core.data.Offset.offset(1e-14));
                assertThat(r.params().buffers().get("1_batch_norm_eval/running_var").toDoubleArray())
                        .containsExactly(runningVar, org.assertj.core.data.Offset.offset(1e-14));
                // the test figures are those of eval() with the final running statistics
                EpochMetrics last = r.curves().get(3);
                assertThat(last.testLoss()).isCloseTo(0.3845189143686538, org.assertj.core.data.Offset.offset(1e-14));
                assertThat(last.testAccuracy()).isEqualTo(2.0 / 6);
                assertThat(Trainer.evaluate(m, r.params(), train, Loss.CROSS_ENTROPY, 4)[0])
                        .isCloseTo(0.3845189143686538, org.assertj.core.data.Offset.offset(1e-14));
                // the initial parameters are not changed, their statistics neither
                assertThat(init.buffers().get("1_batch_norm_eval/running_var").toDoubleArray())
                        .containsExactly(1.5, 0.5, 2.0, 0.8);
                // a checkpoint in the middle of epoch 2 (step 3) holds that step's statistics, and a resume from it
                // ends with the uninterrupted run's bits, statistics included
                assertThat(states).extracting(TrainState::step).containsExactly(3L, 6L);
                TrainState mid = states.get(0);
                assertThat(mid.params().buffers().get("1_batch_norm_eval/running_mean").toDoubleArray())
                        .isNotEqualTo(stats.get("1_batch_norm_eval/running_mean").toDoubleArray());
                try (TrainResult resumed = Trainer.resume(m, mid, train, train, training.toBuilder()
                        .checkpointEverySteps(3).build(), Listener.NONE)) {
                    for (String k : paths) {
                        assertThat(resumed.params().get(k).toDoubleArray()).as(k)
                                .containsExactly(r.params().get(k).toDoubleArray());
                    }
                    for (String k : stats.keySet()) {
                        assertThat(resumed.params().buffers().get(k).toDoubleArray()).as(k)
                                .containsExactly(r.params().buffers().get(k).toDoubleArray());
                    }
                    assertThat(resumed.curves().get(3).testLoss()).isEqualTo(last.testLoss());
                }
            } finally {
                states.forEach(TrainState::close);
            }
            // a resume in the other mode is refused, naming it
            try (TrainResult r = Trainer.train(m, init, train, null, frozen.toBuilder().epochs(1).build(),
                    Listener.NONE);
                 TrainState s = new TrainState(r.params().copy(), Map.of(), 1, 0, 2, 0, 0, r.curves(),
                         frozen.describe())) {
                assertThatThrownBy(() -> Trainer.resume(m, s, train, null, training.toBuilder()
                        .optimizer(Optimizer.sgd(0, 0.01)).learningRate(0.3).build(), Listener.NONE))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("this run has")
                        .hasMessageContaining("batch norm train");
            }
            // a batch of 1 example gives the batch norm one value per channel: refused before any step, as PyTorch
            // raises
            try (Tensor five = Layout.sliceAxis(x, 0, 0, 5)) {
                assertThatThrownBy(() -> Trainer.train(m, init, new Examples(five, new int[] {0, 2, 1, 2, 0}, 3), null,
                        training.toBuilder().batchSize(2).build(), Listener.NONE))
                        .isInstanceOf(IllegalArgumentException.class).hasMessage("train: the batch norm "
                                + "1_batch_norm_eval in training mode needs more than 1 value per channel, a batch of "
                                + "1 examples gives it 1 (5 examples in batches of 2); choose another --batch");
            }
        }
    }

    /**
     * Batch norms in training mode after a convolution, channels-last [N, H, W, C]: the batch statistics are over the
     * example and spatial axes per channel (last axis), and the running variance's unbiasing counts batch × H × W
     * values (8 here, not the batch of 2). PyTorch 1.13 in float64 ({@code F.conv2d} on the NCHW transpose, {@code
     * F.batch_norm(training=True, momentum=0.1)}, SGD with momentum and weight decay, 2 epochs in batches of 2 in
     * Trainer.permutation(5, e, 4)'s order; {@code torch_conv_batch_norm_oracle.py} in its resources): the parameters
     * and the running statistics to 1e-13, the losses (the eval() test loss included) to 1e-14.
     */
    @Test
    void convolutionBatchNormsTrainOverExamplesAndPositionsAsPyTorch() throws Exception {
        org.ntk4j.nn.Parameterization sp = org.ntk4j.nn.Parameterization.STANDARD;
        Model m = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.conv(2, new int[] {2, 2},
                new int[] {1, 1}, "VALID", 1, 1, sp), org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.relu(),
                org.ntk4j.nn.Layers.globalAvgPool(), org.ntk4j.nn.Layers.dense(3, 1, 1, sp)), "conv-bn");
        assertThat(Trainer.permutation(5, 1, 4)).containsExactly(2, 0, 1, 3);
        assertThat(Trainer.permutation(5, 2, 4)).containsExactly(2, 1, 0, 3);
        Map<String, Tensor> p = new java.util.LinkedHashMap<>();
        p.put("0_conv/w", cosines(16, 0.4, 1.3, 2, 2, 2, 2)); // HWIO
        p.put("0_conv/b", Tensor.of(new double[] {0.05, -0.1}, 2));
        p.put("1_batch_norm_eval/scale", Tensor.of(new double[] {1.1, 0.8}, 2));
        p.put("1_batch_norm_eval/shift", Tensor.of(new double[] {0.1, -0.2}, 2));
        p.put("4_dense/w", cosines(6, 0.5, 0.9, 2, 3));
        p.put("4_dense/b", Tensor.of(new double[] {0.0, 0.1, -0.1}, 3));
        Map<String, Tensor> stats = new java.util.LinkedHashMap<>();
        stats.put("1_batch_norm_eval/running_mean", Tensor.of(new double[] {0.1, -0.2}, 2));
        stats.put("1_batch_norm_eval/running_var", Tensor.of(new double[] {1.2, 0.7}, 2));
        double[][] expected = {
            {0.3737883725630713, -0.03665015719970548, -0.3682442686766134, -0.21998635263801078,
                0.29989189691604085, 0.3247211798674431, -0.07584433981600798, -0.3908846043780778,
                -0.13296967844284144, 0.3548375300684597, 0.2697494932090585, -0.16762284700947602,
                -0.4006436428073418, -0.04243637200670713, 0.3679497563500181, 0.2029427539462734},
            {0.04909786332079997, -0.0981957266416},
            {1.0418638676189134, 0.8103441680018612},
            {0.05949533942716988, -0.16666291702979089},
            {0.4213777427803688, 0.15328098646134536, -0.17556766094863863, -0.5047296893136006,
                -0.36584589912123683, 0.071053306346245},
            {-0.0801121489964954, 0.05623377465480262, 0.02387837434169281}};
        List<String> paths = List.copyOf(p.keySet());
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.sgd(0.9, 0.01)).learningRate(0.2).batchSize(2)
                .epochs(2).seed(5).loss(Loss.CROSS_ENTROPY).batchNormTraining(true).build();
        try (Params init = new Params(p, stats); Tensor x = cosines(72, 1.5, 0.7, 4, 3, 3, 2)) {
            Examples data = new Examples(x, new int[] {0, 2, 1, 2}, 3);
            try (TrainResult r = Trainer.train(m, init, data, data, c, Listener.NONE)) {
                for (int i = 0; i < paths.size(); i++) {
                    assertThat(r.params().get(paths.get(i)).toDoubleArray()).as(paths.get(i))
                            .containsExactly(expected[i], org.assertj.core.data.Offset.offset(1e-13));
                }
                assertThat(r.params().buffers().get("1_batch_norm_eval/running_mean").toDoubleArray())
                        .containsExactly(new double[] {0.15501981375224755, -0.14717424154684688},
                                org.assertj.core.data.Offset.offset(1e-13));
                assertThat(r.params().buffers().get("1_batch_norm_eval/running_var").toDoubleArray())
                        .containsExactly(new double[] {0.8242005044827793, 0.48797918765899384},
                                org.assertj.core.data.Offset.offset(1e-13));
                assertThat(r.curves().get(1).trainLoss()).isCloseTo(0.3982793670878084,
                        org.assertj.core.data.Offset.offset(1e-14));
                assertThat(r.curves().get(2).trainLoss()).isCloseTo(0.3859731869611573,
                        org.assertj.core.data.Offset.offset(1e-14));
                assertThat(r.curves().get(1).testLoss()).isCloseTo(0.38145613088355557,
                        org.assertj.core.data.Offset.offset(1e-14));
                assertThat(r.curves().get(2).testLoss()).isCloseTo(0.36797225748432566,
                        org.assertj.core.data.Offset.offset(1e-14));
            }
        }
    }

    /** s·cos(f·i + 0.3) for i = 0, 1, ... in the given shape (the values the PyTorch script builds too). */
    private static Tensor cosines(int n, double s, double f, int... shape) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = s * Math.cos(f * i + 0.3);
        }
        return Tensor.of(v, shape);
    }

    /**
     * Batch norms in training mode on a network whose running statistics the steps would not update are refused
     * before any step: a linearised network declares its base's batch norms but traces them in eval() mode around
     * its expansion point (it trained frozen, its settings and checkpoints saying "batch norm train"), and a network
     * without running statistics (an ONNX model's BatchNormalization holds them as constants) has none to train.
     */
    @Test
    void batchNormTrainingIsRefusedWhereNoRunningStatisticWouldBeUpdated() throws Exception {
        Model base = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(4),
                org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.relu(), org.ntk4j.nn.Layers.dense(3)), "bn");
        Model lin = org.ntk4j.nn.Linearized.aroundInit(base, 1, 0, "linearize(bn)");
        Model plain = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(4), org.ntk4j.nn.Layers.relu(),
                org.ntk4j.nn.Layers.dense(3)), "plain");
        TrainConfig c = TrainConfig.builder().optimizer(Optimizer.sgd(0, 0)).learningRate(0.1).batchSize(2)
                .epochs(1).batchNormTraining(true).build();
        try (Tensor x = Tensor.of(new double[] {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0}, 4, 2);
             Params linInit = lin.init(0, new int[] {2}, DType.F64);
             Params plainInit = plain.init(0, new int[] {2}, DType.F64)) {
            Examples train = new Examples(x, new int[] {0, 1, 2, 0}, 3);
            assertThat(lin.bufferSpecs(new int[] {2})).isNotEmpty();
            assertThatThrownBy(() -> Trainer.train(lin, linInit, train, null, c, Listener.NONE))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("train: batch norms in training mode "
                            + "(--batch-norm train): linearize(bn) does not update its running statistic "
                            + "1_batch_norm_eval/running_mean in training mode (a linearised network's batch norms are "
                            + "those of its expansion point); train its batch norms frozen");
            assertThatThrownBy(() -> Trainer.train(plain, plainInit, train, null, c, Listener.NONE))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("train: batch norms in training mode "
                            + "(--batch-norm train): plain has no batch norm with running statistics to train (an "
                            + "ONNX model's BatchNormalization holds them as constants)");
            // frozen, both train
            TrainConfig frozen = c.toBuilder().batchNormTraining(false).build();
            try (TrainResult r = Trainer.train(lin, linInit, train, null, frozen, Listener.NONE)) {
                assertThat(r.curves()).hasSize(2);
            }
        }
    }

    /**
     * Under batch-norm training a batch whose values' squares overflow (inputs of 1e160 in float64) has an infinite
     * variance: it normalises to the shift, the loss stays finite, and the running variance becomes +∞. The run stops
     * there, before a checkpoint of it, naming the statistic.
     */
    @Test
    void anOverflowingRunningStatisticStopsTheRun() throws Exception {
        Model m = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.batchNormEval(),
                org.ntk4j.nn.Layers.dense(3)), "bn-first");
        List<String> written = new ArrayList<>();
        Listener names = new Listener() {
            @Override
            public void checkpoint(TrainState state, String name) {
                written.add(name);
            }
        };
        try (Params init = m.init(1, new int[] {2}, DType.F64);
             Tensor x = Tensor.of(new double[] {1e160, -1e160, 2e160, 3e160, -2e160, 1e160, 0.5e160, -1e160}, 4,
                     2)) {
            TrainConfig c = TrainConfig.builder().optimizer(Optimizer.sgd(0, 0)).learningRate(0.1).batchSize(4)
                    .epochs(1).checkpointEverySteps(1).checkpointEpochs(Set.of(0)).batchNormTraining(true).build();
            assertThatThrownBy(() -> Trainer.train(m, init, new Examples(x, new int[] {0, 1, 2, 0}, 3), null, c,
                    names)).isInstanceOf(IllegalArgumentException.class).hasMessage("train: the run diverged: "
                            + "after step 1 (epoch 1) the running statistic '0_batch_norm_eval/running_var' holds "
                            + "Infinity at flat index 0 (a batch's values or their squares past f64's range; learning "
                            + "rate 0.1); lower --lr (the checkpoints written before are kept)");
            assertThat(written).containsExactly("epoch-0000");
        }
    }
}
