package org.ntk4j.study;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GradientDescentMse;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class TrainingStudyTest {
    private static final int[] PER = {4};
    private static final List<KernelKind> KINDS = List.of(KernelKind.parse("pntk", 0), KernelKind.parse("trace", 0));

    /** The parameters plus 0.2 times seeded normal noise: a "trained" checkpoint. */
    private static Params perturbed(Params p, long seed) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        int k = 0;
        for (Map.Entry<String, Tensor> e : p.tensors().entrySet()) {
            Tensor t = e.getValue().copy();
            try (Tensor noise = Tensor.randomNormal(DType.F64, seed + k++, t.shape())) {
                for (int i = 0; i < t.size(); i++) {
                    t.setFlat(i, t.getFlat(i) + 0.2 * noise.getFlat(i));
                }
            }
            m.put(e.getKey(), t);
        }
        return new Params(m);
    }

    @Test
    void metricsAgreeWithDirectComputation() {
        Model net = Zoo.parse("fcn(depth=1,width=16,out=3)");
        Tensor xTrain = Tensor.randomNormal(DType.F64, 1, 6, 4);
        Tensor xTest = Tensor.randomNormal(DType.F64, 2, 5, 4);
        Tensor y = ApproximationReport.randomOneHot(DType.F64, 6, 3, 3);
        int[] labels = {0, 1, 2, 1, 0};
        TrainingStudy study = TrainingStudy.of(xTrain, y, xTest, labels, KINDS, DiagReg.relative(1e-4), null);
        try (Params p0 = net.init(7, PER, DType.F64); Params p1 = perturbed(p0, 11)) {
            TrainingStudy.Point a = study.add(16, 0, net, p0);
            TrainingStudy.Point b = study.add(16, 1, net, p1);
            assertThat(a.kernelVelocity()).isZero();

            // velocity by hand: ‖Θ1 − Θ0‖_F / ‖Θ0‖_F of the full training kernels
            try (Tensor t0 = EmpiricalNtk.of(net, p0).kernel(KernelKind.full(), xTrain, null);
                 Tensor t1 = EmpiricalNtk.of(net, p1).kernel(KernelKind.full(), xTrain, null)) {
                double num = 0;
                double den = 0;
                for (int i = 0; i < t0.size(); i++) {
                    num += Math.pow(t1.getFlat(i) - t0.getFlat(i), 2);
                    den += Math.pow(t0.getFlat(i), 2);
                }
                assertThat(b.kernelVelocity()).isGreaterThan(0.01).isCloseTo(Math.sqrt(num / den), within(1e-12));
            }

            // the kinds' figures are ApproximationReport's for the same kernel
            ApproximationReport r = ApproximationReport.run(EmpiricalNtk.of(net, p1), xTrain, xTest, y, KINDS,
                    DiagReg.relative(1e-4));
            for (int k = 0; k < KINDS.size(); k++) {
                ApproximationReport.Row want = r.rows().get(k);
                ApproximationReport.Row got = b.kinds().get(k);
                assertThat(got.kind).isEqualTo(want.kind);
                assertThat(got.relativeFrobeniusError).isEqualTo(want.relativeFrobeniusError);
                assertThat(got.lambdaMaxRelativeError).isEqualTo(want.lambdaMaxRelativeError);
                assertThat(got.lambdaMinRatio).isEqualTo(want.lambdaMinRatio);
                assertThat(got.conditionNumberRatio).isEqualTo(want.conditionNumberRatio);
                assertThat(want.testAccuracy).isNaN();
            }
            assertThat(b.kind("pntk").relativeFrobeniusError).isBetween(1e-3, 1.0);

            // the full kernel's test accuracy: argmax of its kernel-regression predictions against the labels
            try (Tensor th = EmpiricalNtk.of(net, p1).kernel(KernelKind.full(), xTrain, null);
                 Tensor tt = EmpiricalNtk.of(net, p1).kernel(KernelKind.full(), xTest, xTrain);
                 KernelMatrix km = KernelMatrix.of(th);
                 GradientDescentMse g = GradientDescentMse.of(km, y, 1, DiagReg.relative(1e-4));
                 Tensor pred = g.predictTest(Double.POSITIVE_INFINITY, tt, null, null)) {
                int right = 0;
                for (int i = 0; i < 5; i++) {
                    int am = 0;
                    for (int c = 1; c < 3; c++) {
                        am = pred.get(i, c) > pred.get(i, am) ? c : am;
                    }
                    right += am == labels[i] ? 1 : 0;
                }
                assertThat(b.fullTestAccuracy()).isEqualTo(right / 5.0);
            }
            assertThat(b.kind("trace").testAccuracy).isBetween(0.0, 1.0);

            assertThat(study.widths()).containsExactly(16);
            assertThat(study.epochs()).containsExactly(0, 1);
            assertThat(study.series(16, TrainingStudy.Point::kernelVelocity))
                    .containsExactly(0, b.kernelVelocity());
            assertThat(study.kindNames()).containsExactly("pntk", "trace");
        }
        xTrain.close();
        xTest.close();
        y.close();
    }

    @Test
    void checkpointsMustStartAtEpochZeroAndIncrease() {
        Model net = Zoo.parse("fcn(depth=1,width=8,out=2)");
        Tensor xTrain = Tensor.randomNormal(DType.F64, 1, 3, 4);
        Tensor xTest = Tensor.randomNormal(DType.F64, 2, 2, 4);
        Tensor y = ApproximationReport.randomOneHot(DType.F64, 3, 2, 3);
        TrainingStudy study = TrainingStudy.of(xTrain, y, xTest, new int[] {0, 1}, KINDS, DiagReg.relative(1e-4), null);
        try (Params p = net.init(1, PER, DType.F64)) {
            assertThatThrownBy(() -> study.add(8, 2, net, p)).hasMessageContaining("must be epoch 0");
            study.add(8, 0, net, p);
            study.add(8, 2, net, p);
            assertThatThrownBy(() -> study.add(8, 2, net, p)).hasMessageContaining("epochs must increase");
            assertThat(study.points().get(1).kernelVelocity()).isZero();
            Model wrong = Zoo.parse("fcn(depth=1,width=8,out=5)");
            try (Params q = wrong.init(1, PER, DType.F64)) {
                assertThatThrownBy(() -> study.add(9, 0, wrong, q)).hasMessageContaining("the targets need [N, 2]");
            }
        }
        assertThatThrownBy(() -> TrainingStudy.of(xTrain, y, xTest, new int[] {0}, KINDS, DiagReg.relative(1e-4), null))
                .hasMessageContaining("1 test labels for 2 test inputs");
        assertThatThrownBy(() -> TrainingStudy.of(xTrain, y, xTest, new int[] {0, 1},
                List.of(KernelKind.full()), DiagReg.relative(1e-4), null)).hasMessageContaining("not an N×N kind");
    }

    /**
     * The study through training of a network whose batch norm trains as PyTorch's in train() mode: each checkpoint's
     * kernel is that of the checkpoint's own running statistics (eval mode), as computed directly from its parameters
     * and buffers, given the plain model (before 2026-12-07 the checkpoint was refused: its buffers differ from the
     * model's); with the model's default statistics the kernels, and the velocity, would be others.
     */
    @Test
    void checkpointsOfATrainingBatchNormAreStudiedWithTheirRunningStatistics() throws Exception {
        Model net = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(16),
                org.ntk4j.nn.Layers.batchNormEval(), org.ntk4j.nn.Layers.relu(), org.ntk4j.nn.Layers.dense(3)),
                "bn-net");
        Tensor xTrain = Tensor.randomNormal(DType.F64, 1, 6, 4);
        Tensor xTest = Tensor.randomNormal(DType.F64, 2, 5, 4);
        Tensor y = ApproximationReport.randomOneHot(DType.F64, 6, 3, 3);
        int[] labels = {0, 1, 2, 1, 0};
        List<org.ntk4j.train.TrainState> states = new java.util.ArrayList<>();
        org.ntk4j.train.Listener keep = new org.ntk4j.train.Listener() {
            @Override
            public void checkpoint(org.ntk4j.train.TrainState state, String name) {
                states.add(state.copy());
            }
        };
        org.ntk4j.train.TrainConfig c = org.ntk4j.train.TrainConfig.builder()
                .optimizer(org.ntk4j.train.Optimizer.sgd(0.9, 0)).learningRate(0.5).batchSize(4).epochs(2)
                .checkpointEpochs(java.util.Set.of(0, 1, 2)).batchNormTraining(true).build();
        try (Params p0 = net.init(7, PER, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 3, 12, 4);
             org.ntk4j.train.TrainResult r = org.ntk4j.train.Trainer.train(net, p0, new org.ntk4j.train.Examples(x,
                     new int[] {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, 3), null, c, keep)) {
            assertThat(states).hasSize(3);
            TrainingStudy study = TrainingStudy.of(xTrain, y, xTest, labels, KINDS, DiagReg.relative(1e-4), null);
            double[] theta0 = null;
            double[] plain0 = null;
            for (int e = 0; e < 3; e++) {
                Params p = states.get(e).params();
                TrainingStudy.Point point = study.add(16, e, net, p);
                try (Tensor direct = EmpiricalNtk.of(net.withBuffers(p.buffers()), p).kernel(KernelKind.full(),
                        xTrain, null);
                     Tensor defaults = EmpiricalNtk.of(net, new Params(p.tensors())).kernel(KernelKind.full(),
                             xTrain, null)) {
                    if (e == 0) {
                        theta0 = direct.toDoubleArray();
                        plain0 = defaults.toDoubleArray();
                        assertThat(theta0).containsExactly(plain0); // epoch 0: the default statistics
                        assertThat(point.kernelVelocity()).isZero();
                        continue;
                    }
                    assertThat(p.buffers().get("1_batch_norm_eval/running_var").toDoubleArray())
                            .as("the steps moved the running statistics").isNotEqualTo(new double[16]);
                    double want = velocity(direct.toDoubleArray(), theta0);
                    assertThat(point.kernelVelocity()).isGreaterThan(0.01).isCloseTo(want, within(1e-12));
                    assertThat(velocity(defaults.toDoubleArray(), plain0)).as("with the default statistics")
                            .isNotCloseTo(want, within(1e-3));
                    ApproximationReport want2 = ApproximationReport.run(EmpiricalNtk.of(net.withBuffers(p.buffers()),
                            p), xTrain, xTest, y, KINDS, DiagReg.relative(1e-4));
                    assertThat(point.kind("pntk").relativeFrobeniusError)
                            .isEqualTo(want2.rows().get(0).relativeFrobeniusError);
                }
            }
        } finally {
            states.forEach(org.ntk4j.train.TrainState::close);
            xTrain.close();
            xTest.close();
            y.close();
        }
    }

    /** ‖a − b‖_F / ‖b‖_F. */
    private static double velocity(double[] a, double[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += Math.pow(a[i] - b[i], 2);
            den += Math.pow(b[i], 2);
        }
        return Math.sqrt(num / den);
    }
}
