// Package podauth gives the image gate a Pod's registry credentials, as
// the kubelet would use them: the Pod's imagePullSecrets and those of its
// service account (go-containerregistry's pkg/authn/kubernetes), then a
// fallback keychain (anonymous when nil).
package podauth

import (
	"context"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	k8schain "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"k8s.io/client-go/kubernetes"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// lookupTimeout bounds the API server reads for one keychain.
const lookupTimeout = 10 * time.Second

// Keychains returns the keychain factory for scanner.Keychains: for each
// Pod or pod template, its namespace's pull secrets are read from the API
// server only when a registry asks for credentials, so a cached verdict
// costs no API call. The webhook's service account needs get on secrets
// and serviceaccounts.
func Keychains(client kubernetes.Interface, fallback authn.Keychain) func(*manifest.Object) authn.Keychain {
	if fallback == nil {
		fallback = emptyKeychain{}
	}
	return func(obj *manifest.Object) authn.Keychain {
		opt := k8schain.Options{Namespace: obj.Namespace()}
		if spec, _, ok := obj.PodSpec(); ok {
			opt.ServiceAccountName, _ = spec["serviceAccountName"].(string)
			if opt.ServiceAccountName == "" {
				opt.ServiceAccountName, _ = spec["serviceAccount"].(string)
			}
			refs, _ := spec["imagePullSecrets"].([]any)
			for _, r := range refs {
				m, _ := r.(map[string]any)
				if n, _ := m["name"].(string); n != "" {
					opt.ImagePullSecrets = append(opt.ImagePullSecrets, n)
				}
			}
		}
		return &lazy{build: func() (authn.Keychain, error) {
			ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
			defer cancel()
			kc, err := k8schain.New(ctx, client, opt)
			if err != nil {
				return nil, err
			}
			return authn.NewMultiKeychain(kc, fallback), nil
		}}
	}
}

// lazy builds its keychain on the first Resolve.
type lazy struct {
	once  sync.Once
	build func() (authn.Keychain, error)
	kc    authn.Keychain
	err   error
}

func (l *lazy) Resolve(r authn.Resource) (authn.Authenticator, error) {
	l.once.Do(func() { l.kc, l.err = l.build() })
	if l.err != nil {
		return nil, l.err
	}
	return l.kc.Resolve(r)
}

type emptyKeychain struct{}

func (emptyKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}
