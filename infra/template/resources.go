package template

import (
	"fmt"
)

func (p *parser) table(id, cond string, props map[string]Value) error {
	t := Table{LogicalID: id, Condition: cond}
	var err error
	if t.KeySchema, err = p.keySchema(props["KeySchema"], "KeySchema"); err != nil {
		return err
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
	if t.BillingMode, err = p.str(props["BillingMode"], "BillingMode"); err != nil {
		return err
	}
	if t.BillingMode == "" {
		t.BillingMode = "PROVISIONED" // CloudFormation's default
	}
	if t.Throughput, err = p.throughput(props["ProvisionedThroughput"]); err != nil {
		return err
	}
	if t.GSIs, err = p.indexes(props["GlobalSecondaryIndexes"], "GlobalSecondaryIndexes"); err != nil {
		return err
	}
	if t.LSIs, err = p.indexes(props["LocalSecondaryIndexes"], "LocalSecondaryIndexes"); err != nil {
		return err
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
	if len(t.KeySchema) == 0 {
		return fmt.Errorf("KeySchema is required")
	}
	p.t.Tables = append(p.t.Tables, t)
	return nil
}

// simpleTable turns an AWS::Serverless::SimpleTable into the table SAM deploys for it.
func (p *parser) simpleTable(id, cond string, props map[string]Value) error {
	name, typ := "id", "String"
	if pk, ok := props["PrimaryKey"].Map(); ok {
		var err error
		if name, err = p.str(pk["Name"], "PrimaryKey.Name"); err != nil {
			return err
		}
		if typ, err = p.str(pk["Type"], "PrimaryKey.Type"); err != nil {
			return err
		}
	}
	short := map[string]string{"String": "S", "Number": "N", "Binary": "B"}[typ]
	if short == "" {
		return fmt.Errorf("PrimaryKey.Type %q: want String, Number or Binary", typ)
	}
	t := Table{
		LogicalID:            id,
		Condition:            cond,
		KeySchema:            []KeyElement{{AttributeName: name, KeyType: "HASH"}},
		AttributeDefinitions: []AttributeDefinition{{AttributeName: name, AttributeType: short}},
		BillingMode:          "PAY_PER_REQUEST",
	}
	if v := props["ProvisionedThroughput"]; !v.IsNull() {
		var err error
		if t.Throughput, err = p.throughput(v); err != nil {
			return err
		}
		t.BillingMode = "PROVISIONED"
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

func (p *parser) indexes(v Value, what string) ([]Index, error) {
	l, _ := v.List()
	var out []Index
	for i, e := range l {
		m, _ := e.Map()
		w := fmt.Sprintf("%s[%d]", what, i)
		var ix Index
		var err error
		if ix.Name, err = p.str(m["IndexName"], w+".IndexName"); err != nil {
			return nil, err
		}
		if ix.KeySchema, err = p.keySchema(m["KeySchema"], w+".KeySchema"); err != nil {
			return nil, err
		}
		proj, _ := m["Projection"].Map()
		if ix.Projection.Type, err = p.str(proj["ProjectionType"], w+".Projection.ProjectionType"); err != nil {
			return nil, err
		}
		if ix.Projection.Type == "" {
			ix.Projection.Type = "KEYS_ONLY" // DynamoDB's default
		}
		if ix.Projection.NonKeyAttributes, err = p.stringList(proj["NonKeyAttributes"], w+".Projection.NonKeyAttributes"); err != nil {
			return nil, err
		}
		if ix.Throughput, err = p.throughput(m["ProvisionedThroughput"]); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, nil
}

func (p *parser) throughput(v Value) (Throughput, error) {
	m, ok := v.Map()
	if !ok {
		return Throughput{}, nil
	}
	r, err := p.integer(m["ReadCapacityUnits"], "ReadCapacityUnits", 0)
	if err != nil {
		return Throughput{}, err
	}
	w, err := p.integer(m["WriteCapacityUnits"], "WriteCapacityUnits", 0)
	if err != nil {
		return Throughput{}, err
	}
	return Throughput{Read: int64(r), Write: int64(w)}, nil
}

func (p *parser) queue(id, cond string, props map[string]Value) error {
	q := Queue{LogicalID: id, Condition: cond}
	ints := []struct {
		key string
		dst *int
	}{
		{"VisibilityTimeout", &q.VisibilityTimeout},
		{"MessageRetentionPeriod", &q.MessageRetentionPeriod},
		{"DelaySeconds", &q.DelaySeconds},
		{"ReceiveMessageWaitTimeSeconds", &q.ReceiveWaitTimeSeconds},
	}
	var err error
	for _, f := range ints {
		if *f.dst, err = p.integer(props[f.key], f.key, 0); err != nil {
			return err
		}
	}
	if q.FIFO, err = p.boolean(props["FifoQueue"], "FifoQueue", false); err != nil {
		return err
	}
	if q.ContentBasedDeduplication, err = p.boolean(props["ContentBasedDeduplication"], "ContentBasedDeduplication", false); err != nil {
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

func (p *parser) bucket(id, cond string, props map[string]Value) error {
	b := Bucket{LogicalID: id, Condition: cond}
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

func (p *parser) secret(id, cond string, props map[string]Value) error {
	s := Secret{LogicalID: id, Condition: cond}
	var err error
	if s.SecretString, err = p.str(props["SecretString"], "SecretString"); err != nil {
		return err
	}
	if g, ok := props["GenerateSecretString"].Map(); ok {
		if err := checkKeys(g, "GenerateSecretString", "SecretStringTemplate", "GenerateStringKey",
			"PasswordLength", "ExcludeCharacters", "ExcludePunctuation", "ExcludeUppercase",
			"ExcludeLowercase", "ExcludeNumbers", "IncludeSpace", "RequireEachIncludedType"); err != nil {
			return err
		}
		gen := &GenerateSecretString{}
		strs := []struct {
			key string
			dst *string
		}{
			{"SecretStringTemplate", &gen.Template},
			{"GenerateStringKey", &gen.Key},
			{"ExcludeCharacters", &gen.ExcludeCharacters},
		}
		for _, f := range strs {
			if *f.dst, err = p.str(g[f.key], f.key); err != nil {
				return err
			}
		}
		bools := []struct {
			key string
			def bool
			dst *bool
		}{
			{"ExcludePunctuation", false, &gen.ExcludePunctuation},
			{"ExcludeUppercase", false, &gen.ExcludeUppercase},
			{"ExcludeLowercase", false, &gen.ExcludeLowercase},
			{"ExcludeNumbers", false, &gen.ExcludeNumbers},
			{"IncludeSpace", false, &gen.IncludeSpace},
			{"RequireEachIncludedType", true, &gen.RequireEachIncludedType},
		}
		for _, f := range bools {
			if *f.dst, err = p.boolean(g[f.key], f.key, f.def); err != nil {
				return err
			}
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
