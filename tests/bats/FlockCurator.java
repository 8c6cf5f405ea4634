// tests/bats/FlockCurator.java — Apache Curator's lock recipes for the
// flock interop tests (fs_flock_curator.bats): the Java side that a shell
// flock on the mount must exclude, and be excluded by.
//
//   java FlockCurator CONNECT PATH hold KIND FLAGFILE UNTIL  take, touch FLAGFILE, hold until
//                                                            the file UNTIL exists
//   java FlockCurator CONNECT PATH try KIND                  try for 300 ms: prints got / busy
// KIND: mutex (InterProcessMutex), read or write (InterProcessReadWriteLock).
import java.io.File;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.RetryNTimes;

public class FlockCurator {
	public static void main(String[] a) throws Exception {
		CuratorFramework c = CuratorFrameworkFactory.newClient(a[0], 10000, 5000, new RetryNTimes(3, 200));
		c.start();
		c.blockUntilConnected(15, TimeUnit.SECONDS);
		InterProcessLock l;
		if (a[3].equals("mutex"))
			l = new InterProcessMutex(c, a[1]);
		else if (a[3].equals("read"))
			l = new InterProcessReadWriteLock(c, a[1]).readLock();
		else
			l = new InterProcessReadWriteLock(c, a[1]).writeLock();
		int rc = 0;
		if (a[2].equals("hold")) {
			l.acquire();
			new File(a[4]).createNewFile();
			File until = new File(a[5]);
			for (int i = 0; i < 1200 && !until.exists(); i++)
				Thread.sleep(50);
			l.release();
		} else if (l.acquire(300, TimeUnit.MILLISECONDS)) {
			System.out.println("got");
			l.release();
		} else {
			System.out.println("busy");
			rc = 1;
		}
		c.close();
		System.exit(rc);
	}
}
