import java.util.Arrays;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.Standardizer;
import org.ntk4j.tensor.DType;

/**
 * Times loading and GLOBAL standardisation of the named sources (the README's "Cost" table). Three rounds in
 * one JVM; the last is printed. Run from the repository root after a build (./ntk4j builds):
 *
 * <pre>
 * java -cp "ntk4j-io/target/classes:ntk4j-core/target/classes:$(cat ntk4j-cli/target/launcher.classpath)" \
 *     ntk4j-io/scripts/LoadTiming.java
 * </pre>
 */
public class LoadTiming {
    public static void main(String[] args) throws Exception {
        String[] specs = args.length > 0 ? args : new String[] {"default:train", "default:test",
            "fashion-mnist:test", "fashion-mnist:train"};
        for (int round = 0; round < 3; round++) {
            for (String spec : specs) {
                long t0 = System.nanoTime();
                try (Dataset d = DataSource.loadDataset(spec, DType.F32, 0)) {
                    long t1 = System.nanoTime();
                    Standardizer s = Standardizer.fit(d.x(), Standardizer.Mode.GLOBAL);
                    try (Dataset z = s.apply(d)) {
                        long t2 = System.nanoTime();
                        if (round == 2) {
                            System.out.printf("%-22s %-18s load %.3f s, fit + apply %.3f s, %s%n", spec,
                                    Arrays.toString(d.x().shape()), (t1 - t0) / 1e9, (t2 - t1) / 1e9, s);
                        }
                    }
                }
            }
        }
    }
}
