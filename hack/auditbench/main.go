// Command auditbench measures gatekeep audit on a real API server (envtest:
// bin/kube-apiserver and bin/etcd) holding -objects objects, half Pods
// (one in a hundred privileged) and half ConfigMaps, spread over
// -namespaces namespaces: the audit's wall time and the peak resident
// memory of the gatekeep process. It measures; it asserts nothing.
//
//	go run ./hack/auditbench -gatekeep bin/gatekeep -objects 100000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	gatekeep := flag.String("gatekeep", "bin/gatekeep", "gatekeep binary")
	objects := flag.Int("objects", 100000, "objects to create (half Pods, half ConfigMaps)")
	namespaces := flag.Int("namespaces", 100, "namespaces to spread them over")
	assets := flag.String("assets", "bin", "folder of kube-apiserver and etcd")
	runs := flag.Int("runs", 1, "audits to time")
	flag.Parse()
	if err := run(*gatekeep, *assets, *objects, *namespaces, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "auditbench:", err)
		os.Exit(1)
	}
}

func run(gatekeep, assets string, objects, namespaces, runs int) error {
	abs, err := filepath.Abs(assets)
	if err != nil {
		return err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: abs}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	admin, err := env.AddUser(envtest.User{Name: "bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "auditbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 5000, 10000
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := fill(context.Background(), kube, objects, namespaces); err != nil {
		return err
	}
	fmt.Printf("created %d objects in %d namespaces in %s\n", objects, namespaces, time.Since(start).Round(time.Second))
	for i := 0; i < runs; i++ {
		cmd := exec.Command(gatekeep, "audit", "--kubeconfig", kubeconfig, "-o", "json") //nolint:gosec // G204: the binary under measurement
		cmd.Stderr = os.Stderr
		t0 := time.Now()
		out, err := cmd.Output()
		took := time.Since(t0)
		if cmd.ProcessState == nil {
			return fmt.Errorf("gatekeep audit: %w", err)
		}
		if code := cmd.ProcessState.ExitCode(); code > 1 {
			return fmt.Errorf("gatekeep audit: exit %d", code)
		}
		var report struct {
			Summary struct{ Audited, Denied, Warned int }
		}
		if err := json.Unmarshal(out, &report); err != nil {
			return fmt.Errorf("gatekeep audit's report: %w", err)
		}
		ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		var rssMB, cpu float64
		if ru != nil {
			rssMB = float64(ru.Maxrss) / 1024 // KiB on Linux
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
		fmt.Printf("gatekeep audit: %d objects audited, %d denied, %d warned: %s wall, %.1f s CPU, %.0f MB peak RSS\n",
			report.Summary.Audited, report.Summary.Denied, report.Summary.Warned, took.Round(time.Millisecond), cpu, rssMB)
	}
	return nil
}

// fill creates the objects on 32 workers.
func fill(ctx context.Context, kube kubernetes.Interface, objects, namespaces int) error {
	for n := 0; n < namespaces; n++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%03d", n)}}
		if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= objects {
					return
				}
				ns := fmt.Sprintf("team-%03d", i%namespaces)
				var err error
				if i%2 == 0 {
					privileged := i%200 == 0
					pod := &corev1.Pod{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%06d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%500)}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{
							Name: "main", Image: "registry.example.com/app:1.0",
							SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
						}}},
					}
					_, err = kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				} else {
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("config-%06d", i)}, Data: map[string]string{"key": "value", "index": fmt.Sprint(i)}}
					_, err = kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
