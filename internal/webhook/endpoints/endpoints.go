// Package endpoints keeps the webhook endpoints tenants register, sealed
// in the blob store. It is apart from package webhook (secrets and
// signing) so that what reads only a secret, the configuration and the
// starter among them, links no blob store.
package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/webhook"
)

// Errors of the Store, wrapped with details.
var (
	// ErrNotFound: the tenant has no endpoint of that id.
	ErrNotFound = errors.New("webhook endpoint not found")
	// ErrUnavailable: the blob store could not be reached.
	ErrUnavailable = errors.New("blob store unavailable")
	// ErrTooMany: the tenant has MaxEndpoints endpoints already.
	ErrTooMany = errors.New("too many webhook endpoints")
)

// MaxEndpoints bounds the endpoints of one tenant: each is resolved at
// every job submission and read at every delivery.
const MaxEndpoints = 20

// RotationOverlap is how long a rotated secret keeps signing next to its
// successor, so that receivers can switch without missing a delivery.
const RotationOverlap = 24 * time.Hour

// Endpoint is a receiver a tenant registered: every job of the tenant
// whose events it asks for is delivered there too.
type Endpoint struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	// GoneAt is when the receiver answered 410 Gone; a gone endpoint is
	// no longer delivered to.
	GoneAt *time.Time `json:"gone_at,omitempty"`
	// Secrets sign its deliveries, the newest first; a rotated one has an
	// expiry.
	Secrets []KeyedSecret `json:"secrets"`
}

// KeyedSecret is one of an endpoint's secrets.
type KeyedSecret struct {
	Secret webhook.Secret `json:"secret"`
	// ExpiresAt, for a rotated secret, is when it stops signing.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Signing returns the secrets that sign a delivery at now: the current one
// and any rotated one still within its overlap.
func (e Endpoint) Signing(now time.Time) []webhook.Secret {
	var out []webhook.Secret
	for _, s := range e.Secrets {
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			out = append(out, s.Secret)
		}
	}
	return out
}

// Store keeps the endpoints of every tenant in a bucket, each one object
// under the tenant's prefix (tenants/<tenant>/webhooks/endpoints/<id>.json,
// webhooks/endpoints/<id>.json for no tenant), sealed with the key ring
// like documents: the secrets are in them.
type Store struct {
	Bucket *blob.Bucket
	// Ring seals every object written; nil writes plain JSON (no ring
	// configured). Sealed objects are read only with a ring.
	Ring *crypt.Ring
}

// NewStore returns a store on bucket, sealing with ring.
func NewStore(bucket *blob.Bucket, ring *crypt.Ring) *Store {
	return &Store{Bucket: bucket, Ring: ring}
}

func prefix(tenant string) string {
	if tenant == "" {
		return "webhooks/endpoints/"
	}
	return "tenants/" + tenant + "/webhooks/endpoints/"
}

// ValidID reports whether id could name an endpoint (a UUID).
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// Create registers an endpoint for tenant and returns it with its secret,
// which is shown to the caller this once.
func (s *Store) Create(ctx context.Context, tenant, url string, events []string, now time.Time) (Endpoint, webhook.Secret, error) {
	existing, err := s.List(ctx, tenant)
	if err != nil {
		return Endpoint{}, webhook.Secret{}, err
	}
	if len(existing) >= MaxEndpoints {
		return Endpoint{}, webhook.Secret{}, fmt.Errorf("%w: a tenant may register at most %d", ErrTooMany, MaxEndpoints)
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return Endpoint{}, webhook.Secret{}, err
	}
	e := Endpoint{ID: uuid.NewString(), URL: url, Events: events, CreatedAt: now.UTC(), Secrets: []KeyedSecret{{Secret: secret}}}
	if err := s.put(ctx, tenant, e); err != nil {
		return Endpoint{}, webhook.Secret{}, err
	}
	return e, secret, nil
}

// Get returns one endpoint of tenant.
func (s *Store) Get(ctx context.Context, tenant, id string) (Endpoint, error) {
	if !ValidID(id) {
		return Endpoint{}, ErrNotFound
	}
	b, err := s.Bucket.ReadAll(ctx, prefix(tenant)+id+".json")
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Endpoint{}, ErrNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w: read webhook endpoint %s: %w", ErrUnavailable, id, err)
	}
	if crypt.IsSealed(b) {
		if s.Ring == nil {
			return Endpoint{}, fmt.Errorf("read webhook endpoint %s: it is encrypted and this store has no key ring", id)
		}
		if b, _, err = s.Ring.Open(b); err != nil {
			return Endpoint{}, fmt.Errorf("read webhook endpoint %s: %w", id, err)
		}
	}
	var e Endpoint
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoint{}, fmt.Errorf("decode webhook endpoint %s: %w", id, err)
	}
	return e, nil
}

// List returns the endpoints of tenant, oldest first.
func (s *Store) List(ctx context.Context, tenant string) ([]Endpoint, error) {
	it := s.Bucket.List(&blob.ListOptions{Prefix: prefix(tenant), Delimiter: "/"})
	var out []Endpoint
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: list webhook endpoints: %w", ErrUnavailable, err)
		}
		id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix(tenant)), ".json")
		if !ok || !ValidID(id) {
			continue
		}
		e, err := s.Get(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Delete removes an endpoint; deliveries already under way to it fail.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	if _, err := s.Get(ctx, tenant, id); err != nil {
		return err
	}
	if err := s.Bucket.Delete(ctx, prefix(tenant)+id+".json"); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("%w: delete webhook endpoint %s: %w", ErrUnavailable, id, err)
	}
	return nil
}

// Rotate gives an endpoint a new secret, returned this once; the previous
// one keeps signing for RotationOverlap, any older one stops. Two rotations
// at once are last-writer-wins: one of the two new secrets is kept.
func (s *Store) Rotate(ctx context.Context, tenant, id string, now time.Time) (Endpoint, webhook.Secret, error) {
	e, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Endpoint{}, webhook.Secret{}, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return Endpoint{}, webhook.Secret{}, err
	}
	until := now.UTC().Add(RotationOverlap)
	keep := []KeyedSecret{{Secret: secret}}
	if len(e.Secrets) > 0 {
		keep = append(keep, KeyedSecret{Secret: e.Secrets[0].Secret, ExpiresAt: &until})
	}
	e.Secrets = keep
	if err := s.put(ctx, tenant, e); err != nil {
		return Endpoint{}, webhook.Secret{}, err
	}
	return e, secret, nil
}

// MarkGone records that an endpoint's receiver answered 410 Gone.
func (s *Store) MarkGone(ctx context.Context, tenant, id string, now time.Time) error {
	e, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	if e.GoneAt != nil {
		return nil
	}
	t := now.UTC()
	e.GoneAt = &t
	return s.put(ctx, tenant, e)
}

func (s *Store) put(ctx context.Context, tenant string, e Endpoint) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode webhook endpoint %s: %w", e.ID, err)
	}
	contentType := "application/json"
	if s.Ring != nil {
		if b, err = s.Ring.Seal(b); err != nil {
			return fmt.Errorf("encrypt webhook endpoint %s: %w", e.ID, err)
		}
		contentType = "application/octet-stream"
	}
	if err := s.Bucket.WriteAll(ctx, prefix(tenant)+e.ID+".json", b, &blob.WriterOptions{ContentType: contentType}); err != nil {
		return fmt.Errorf("%w: write webhook endpoint %s: %w", ErrUnavailable, e.ID, err)
	}
	return nil
}
