package graphmill.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Runs the embedded Neo4j Community DBMS as a local Bolt server for graphmill development and tests.
 *
 * <p>Configuration comes from environment variables only (never the command line, where the password
 * would be visible in {@code ps}):
 *
 * <ul>
 *   <li>{@code GRAPHMILL_NEO4J_HOME}: Neo4j home; data under {@code data/}, logs under {@code logs/}.
 *   <li>{@code GRAPHMILL_NEO4J_BOLT_PORT}: Bolt port, bound to 127.0.0.1 only.
 *   <li>{@code GRAPHMILL_NEO4J_PASSWORD}: password of the {@code neo4j} user, (re)set on every start.
 * </ul>
 *
 * <p>Prints {@code graphmill-neo4j ready bolt://127.0.0.1:PORT} on stdout once Bolt accepts the
 * credentials, then blocks until the JVM is asked to stop (SIGTERM/SIGINT), when it shuts down cleanly.
 */
public final class Launcher {
  private static final String HOST = "127.0.0.1";
  private static final long PAGE_CACHE_BYTES = 96L * 1024 * 1024;
  private static final Duration STARTUP_TIMEOUT = Duration.ofMinutes(3);
  /** Transaction logs kept beyond the newest (db.tx_log.rotation.retention_policy). */
  static final String TX_LOG_RETENTION = "512M size";
  /** Checkpoints prune the transaction logs (db.checkpoint.interval.time; Neo4j's default is 15 minutes). */
  static final Duration CHECKPOINT_INTERVAL = Duration.ofMinutes(1);

  private Launcher() {}

  public static void main(String[] args) throws InterruptedException {
    Path home;
    int port;
    String password;
    try {
      home = Paths.get(requireEnv("GRAPHMILL_NEO4J_HOME")).toAbsolutePath().normalize();
      port = Integer.parseInt(requireEnv("GRAPHMILL_NEO4J_BOLT_PORT"));
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("GRAPHMILL_NEO4J_BOLT_PORT out of range: " + port);
      }
      password = requireEnv("GRAPHMILL_NEO4J_PASSWORD");
      Files.createDirectories(home);
    } catch (Exception e) {
      System.err.println("graphmill-neo4j: bad configuration: " + e.getMessage());
      System.exit(2);
      return;
    }

    DatabaseManagementService dbms;
    try {
      dbms = start(home, port);
    } catch (Throwable t) {
      System.err.println("graphmill-neo4j: failed to start Neo4j");
      t.printStackTrace();
      System.exit(1);
      return;
    }

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  System.out.println("graphmill-neo4j stopping");
                  try {
                    dbms.shutdown();
                  } catch (Throwable t) {
                    t.printStackTrace();
                  } finally {
                    System.out.println("graphmill-neo4j stopped");
                    System.out.flush();
                    stopped.countDown();
                  }
                },
                "graphmill-neo4j-shutdown"));

    try {
      awaitAvailable(dbms, GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
      awaitAvailable(dbms, GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
      setPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
    } catch (Throwable t) {
      System.err.println("graphmill-neo4j: Neo4j started but could not be prepared");
      t.printStackTrace();
      System.exit(1); // runs the shutdown hook
      return;
    }

    System.out.println("graphmill-neo4j ready bolt://" + HOST + ":" + port);
    System.out.flush();
    stopped.await();
  }

  private static DatabaseManagementService start(Path home, int port) {
    SocketAddress bolt = new SocketAddress(HOST, port);
    return new DatabaseManagementServiceBuilder(home)
        .setUserLogProvider(new Log4jLogProvider(System.out))
        .setConfig(GraphDatabaseSettings.auth_enabled, true)
        .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(HOST))
        .setConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress(HOST))
        .setConfig(BoltConnector.enabled, true)
        .setConfig(BoltConnector.listen_address, bolt)
        .setConfig(BoltConnector.advertised_address, bolt)
        .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
        .setConfig(HttpConnector.enabled, false)
        .setConfig(HttpsConnector.enabled, false)
        .setConfig(GraphDatabaseSettings.pagecache_memory, PAGE_CACHE_BYTES)
        .setConfig(GraphDatabaseSettings.udc_enabled, false)
        .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"))
        // Don't reserve 256 MB per transaction log file up front: this is a dev/test server.
        .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
        // Neo4j keeps two days of transaction logs by default: on a server that the tests and the
        // benchmark rewrite all day that is tens of GB (a full disk). Keep what recovery needs and
        // TX_LOG_RETENTION more, pruned at a checkpoint every minute.
        .setConfig(GraphDatabaseSettings.keep_logical_logs, TX_LOG_RETENTION)
        .setConfig(GraphDatabaseSettings.check_point_interval_time, CHECKPOINT_INTERVAL)
        .build();
  }

  /**
   * Sets the neo4j user's password on every start, so a restart with the same home (and the same or a new
   * password) works. Neo4j refuses to "change" a password to its current value; then it goes through a
   * random intermediate one, which needs no knowledge of the error's wording.
   */
  private static void setPassword(GraphDatabaseService system, String password) {
    String alter = "ALTER USER neo4j SET PASSWORD $p CHANGE NOT REQUIRED";
    try {
      system.executeTransactionally(alter, Map.of("p", password));
    } catch (RuntimeException sameAsBefore) {
      String interim = UUID.randomUUID().toString() + UUID.randomUUID();
      system.executeTransactionally(alter, Map.of("p", interim));
      system.executeTransactionally(alter, Map.of("p", password));
    }
  }

  private static void awaitAvailable(DatabaseManagementService dbms, String name) {
    GraphDatabaseService db = dbms.database(name);
    if (!db.isAvailable(STARTUP_TIMEOUT.toMillis())) {
      throw new IllegalStateException("database '" + name + "' not available after " + STARTUP_TIMEOUT);
    }
  }

  private static String requireEnv(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException(name + " is not set");
    }
    return value;
  }
}
