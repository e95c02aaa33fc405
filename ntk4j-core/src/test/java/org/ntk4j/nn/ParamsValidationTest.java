package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;

/**
 * {@link Params#validate}: the values are scanned last to first (so the first layers' weights stay in the cache
 * for the forward pass), but the message still names the first non-finite parameter in the specs' order.
 */
class ParamsValidationTest {
    private static final int[] IN = {4};

    @Test
    void namesTheFirstNonFiniteParameterInSpecOrderWhateverTheScanOrder() {
        Model m = Zoo.parse("fcn(depth=2,width=6,out=3)");
        List<ParamSpec> specs = m.paramSpecs(IN);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            try (Params p = m.init(1, IN, dtype)) {
                assertThatCode(() -> p.validate(specs, dtype)).doesNotThrowAnyException();
                String second = specs.get(1).path();
                String last = specs.get(specs.size() - 1).path();
                p.get(last).setFlat(1, Double.NaN);
                assertThatThrownBy(() -> p.validate(specs, dtype)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("parameters: '" + last + "' has a non-finite value (NaN) at flat index 1");
                p.get(second).setFlat(4, Double.NEGATIVE_INFINITY);
                assertThatThrownBy(() -> p.validate(specs, dtype)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("parameters: '" + second + "' has a non-finite value (-Infinity) at flat index 4");
            }
        }
    }
}
