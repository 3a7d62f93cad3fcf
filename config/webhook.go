package config

import (
	"errors"
	"fmt"
	"os"

	"github.com/docket-dev/docket/internal/webhook"
)

// loadWebhookSecretFile reads WebhookSecret from WebhookSecretFile when
// that is set. Setting both is refused rather than one silently winning:
// receivers verify with exactly one of them. Errors name the file, never
// its content.
func (c *Config) loadWebhookSecretFile() error {
	if c.WebhookSecretFile == "" {
		return nil
	}
	if !c.WebhookSecret.Zero() {
		return errors.New("DOCKET_WEBHOOK_SECRET and DOCKET_WEBHOOK_SECRET_FILE are both set: set one")
	}
	b, err := os.ReadFile(c.WebhookSecretFile)
	if err != nil {
		return fmt.Errorf("DOCKET_WEBHOOK_SECRET_FILE: %w", err)
	}
	s, err := webhook.ParseSecret(string(b))
	if err != nil {
		return fmt.Errorf("DOCKET_WEBHOOK_SECRET_FILE %s: %w", c.WebhookSecretFile, err)
	}
	c.WebhookSecret = s
	return nil
}
