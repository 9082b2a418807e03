package template

import (
	"fmt"
)

func (p *parser) table(id string, props map[string]Value) error {
	if err := checkKeys(props, "table", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
		"BillingMode", "PointInTimeRecoverySpecification", "SSESpecification", "StreamSpecification",
		"TimeToLiveSpecification", "DeletionProtectionEnabled", "TableName"); err != nil {
		return err
	}
	if mode, err := p.str(props["BillingMode"], "BillingMode"); err != nil {
		return err
	} else if mode != "PAY_PER_REQUEST" {
		return fmt.Errorf("BillingMode %q: only PAY_PER_REQUEST is supported by the local stack", mode)
	}
	t := Table{LogicalID: id}
	var err error
	if t.KeySchema, err = p.keySchema(props["KeySchema"], "KeySchema"); err != nil {
		return err
	}
	if len(t.KeySchema) == 0 {
		return fmt.Errorf("KeySchema is required")
	}
	defs, _ := props["AttributeDefinitions"].List()
	for i, d := range defs {
		m, _ := d.Map()
		var ad AttributeDefinition
		what := fmt.Sprintf("AttributeDefinitions[%d]", i)
		if ad.AttributeName, err = p.str(m["AttributeName"], what+".AttributeName"); err != nil {
			return err
		}
		if ad.AttributeType, err = p.str(m["AttributeType"], what+".AttributeType"); err != nil {
			return err
		}
		t.AttributeDefinitions = append(t.AttributeDefinitions, ad)
	}
	gsis, _ := props["GlobalSecondaryIndexes"].List()
	for i, e := range gsis {
		m, _ := e.Map()
		w := fmt.Sprintf("GlobalSecondaryIndexes[%d]", i)
		var ix Index
		if ix.Name, err = p.str(m["IndexName"], w+".IndexName"); err != nil {
			return err
		}
		if ix.KeySchema, err = p.keySchema(m["KeySchema"], w+".KeySchema"); err != nil {
			return err
		}
		proj, _ := m["Projection"].Map()
		if ix.Projection, err = p.str(proj["ProjectionType"], w+".Projection.ProjectionType"); err != nil {
			return err
		}
		if ix.Projection == "" {
			ix.Projection = "KEYS_ONLY" // DynamoDB's default
		}
		if ix.NonKeyAttributes, err = p.stringList(proj["NonKeyAttributes"], w+".Projection.NonKeyAttributes"); err != nil {
			return err
		}
		t.GSIs = append(t.GSIs, ix)
	}
	if ttl, ok := props["TimeToLiveSpecification"].Map(); ok {
		on, err := p.boolean(ttl["Enabled"], "TimeToLiveSpecification.Enabled", false)
		if err != nil {
			return err
		}
		if on {
			if t.TTLAttribute, err = p.str(ttl["AttributeName"], "TimeToLiveSpecification.AttributeName"); err != nil {
				return err
			}
		}
	}
	if st, ok := props["StreamSpecification"].Map(); ok {
		if t.StreamViewType, err = p.str(st["StreamViewType"], "StreamSpecification.StreamViewType"); err != nil {
			return err
		}
	}
	p.t.Tables = append(p.t.Tables, t)
	return nil
}

func (p *parser) keySchema(v Value, what string) ([]KeyElement, error) {
	l, _ := v.List()
	out := make([]KeyElement, 0, len(l))
	for i, e := range l {
		m, _ := e.Map()
		var k KeyElement
		var err error
		w := fmt.Sprintf("%s[%d]", what, i)
		if k.AttributeName, err = p.str(m["AttributeName"], w+".AttributeName"); err != nil {
			return nil, err
		}
		if k.KeyType, err = p.str(m["KeyType"], w+".KeyType"); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func (p *parser) queue(id string, props map[string]Value) error {
	// FIFO queues, delays and long-poll defaults are not emulated.
	if err := checkKeys(props, "queue", "QueueName", "VisibilityTimeout", "MessageRetentionPeriod",
		"SqsManagedSseEnabled", "RedrivePolicy", "RedriveAllowPolicy"); err != nil {
		return err
	}
	q := Queue{LogicalID: id}
	var err error
	if q.VisibilityTimeout, err = p.integer(props["VisibilityTimeout"], "VisibilityTimeout", 0); err != nil {
		return err
	}
	if q.MessageRetentionPeriod, err = p.integer(props["MessageRetentionPeriod"], "MessageRetentionPeriod", 0); err != nil {
		return err
	}
	if rp := props["RedrivePolicy"]; !rp.IsNull() {
		m, ok := rp.Map()
		if !ok {
			return fmt.Errorf("RedrivePolicy: want a mapping, got %s", rp)
		}
		dlq, attr, ok := target(m["deadLetterTargetArn"])
		if !ok || attr != "Arn" {
			return fmt.Errorf("RedrivePolicy.deadLetterTargetArn must be !GetAtt <queue>.Arn, got %s", m["deadLetterTargetArn"])
		}
		q.RedriveTarget = dlq
		if q.MaxReceiveCount, err = p.integer(m["maxReceiveCount"], "RedrivePolicy.maxReceiveCount", 10); err != nil {
			return err
		}
	}
	p.t.Queues = append(p.t.Queues, q)
	return nil
}

func (p *parser) bucket(id string, props map[string]Value) error {
	b := Bucket{LogicalID: id}
	lc, _ := props["LifecycleConfiguration"].Map()
	rules, _ := lc["Rules"].List()
	for i, r := range rules {
		m, _ := r.Map()
		w := fmt.Sprintf("LifecycleConfiguration.Rules[%d]", i)
		status, err := p.str(m["Status"], w+".Status")
		if err != nil {
			return err
		}
		days, err := p.integer(m["ExpirationInDays"], w+".ExpirationInDays", 0)
		if err != nil {
			return err
		}
		if status == "Enabled" && days > 0 && (b.LifecycleExpirationDays == 0 || days < b.LifecycleExpirationDays) {
			b.LifecycleExpirationDays = days
		}
	}
	p.t.Buckets = append(p.t.Buckets, b)
	return nil
}

func (p *parser) secret(id string, props map[string]Value) error {
	s := Secret{LogicalID: id}
	var err error
	if s.SecretString, err = p.str(props["SecretString"], "SecretString"); err != nil {
		return err
	}
	if g, ok := props["GenerateSecretString"].Map(); ok {
		if err := checkKeys(g, "GenerateSecretString", "SecretStringTemplate", "GenerateStringKey",
			"PasswordLength", "ExcludePunctuation"); err != nil {
			return err
		}
		gen := &GenerateSecretString{}
		if gen.Template, err = p.str(g["SecretStringTemplate"], "SecretStringTemplate"); err != nil {
			return err
		}
		if gen.Key, err = p.str(g["GenerateStringKey"], "GenerateStringKey"); err != nil {
			return err
		}
		if gen.ExcludePunctuation, err = p.boolean(g["ExcludePunctuation"], "ExcludePunctuation", false); err != nil {
			return err
		}
		if gen.Length, err = p.integer(g["PasswordLength"], "PasswordLength", 32); err != nil {
			return err
		}
		if (gen.Template == "") != (gen.Key == "") {
			return fmt.Errorf("GenerateSecretString: SecretStringTemplate and GenerateStringKey must be set together")
		}
		s.Generate = gen
	}
	p.t.Secrets = append(p.t.Secrets, s)
	return nil
}
