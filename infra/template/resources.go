package template

import "cmp"

func (p *parser) table(id string, props object) Table {
	p.known(props, "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode",
		"PointInTimeRecoverySpecification", "SSESpecification", "StreamSpecification",
		"TimeToLiveSpecification", "DeletionProtectionEnabled", "TableName")
	if mode := p.str(props, "BillingMode"); mode != "PAY_PER_REQUEST" {
		p.fail(props.path("BillingMode"), "%q: only PAY_PER_REQUEST is supported by the local stack", mode)
	}
	t := Table{LogicalID: id, KeySchema: p.keySchema(props)}
	if len(t.KeySchema) == 0 {
		p.fail(props.at, "KeySchema is required")
	}
	for _, d := range p.objects(props, "AttributeDefinitions") {
		t.AttributeDefinitions = append(t.AttributeDefinitions,
			AttributeDefinition{AttributeName: p.str(d, "AttributeName"), AttributeType: p.str(d, "AttributeType")})
	}
	for _, g := range p.objects(props, "GlobalSecondaryIndexes") {
		proj := p.object(g, "Projection")
		t.GSIs = append(t.GSIs, Index{
			Name:             p.str(g, "IndexName"),
			KeySchema:        p.keySchema(g),
			Projection:       cmp.Or(p.str(proj, "ProjectionType"), "KEYS_ONLY"), // DynamoDB's default
			NonKeyAttributes: p.strings(proj, "NonKeyAttributes"),
		})
	}
	if ttl := p.object(props, "TimeToLiveSpecification"); p.boolean(ttl, "Enabled", false) {
		t.TTLAttribute = p.str(ttl, "AttributeName")
	}
	t.StreamViewType = p.str(p.object(props, "StreamSpecification"), "StreamViewType")
	return t
}

func (p *parser) keySchema(o object) []KeyElement {
	var out []KeyElement
	for _, k := range p.objects(o, "KeySchema") {
		out = append(out, KeyElement{AttributeName: p.str(k, "AttributeName"), KeyType: p.str(k, "KeyType")})
	}
	return out
}

func (p *parser) queue(id string, props object) Queue {
	// FIFO queues, delays and long-poll defaults are not emulated.
	p.known(props, "QueueName", "VisibilityTimeout", "MessageRetentionPeriod", "SqsManagedSseEnabled",
		"RedrivePolicy", "RedriveAllowPolicy")
	q := Queue{
		LogicalID:              id,
		VisibilityTimeout:      p.integer(props, "VisibilityTimeout", 0),
		MessageRetentionPeriod: p.integer(props, "MessageRetentionPeriod", 0),
	}
	if props.m["RedrivePolicy"] != nil {
		rp := p.object(props, "RedrivePolicy")
		// Provisioning reports a dead-letter queue that the template lacks.
		q.RedriveTarget = p.ref(rp, "deadLetterTargetArn", "Arn", "")
		q.MaxReceiveCount = p.integer(rp, "maxReceiveCount", 10)
	}
	return q
}

func (p *parser) bucket(id string, props object) Bucket {
	b := Bucket{LogicalID: id}
	for _, r := range p.objects(p.object(props, "LifecycleConfiguration"), "Rules") {
		days := p.integer(r, "ExpirationInDays", 0)
		if p.str(r, "Status") == "Enabled" && days > 0 && (b.LifecycleExpirationDays == 0 || days < b.LifecycleExpirationDays) {
			b.LifecycleExpirationDays = days
		}
	}
	return b
}

func (p *parser) secret(id string, props object) Secret {
	s := Secret{LogicalID: id, SecretString: p.str(props, "SecretString")}
	if props.m["GenerateSecretString"] != nil {
		g := p.object(props, "GenerateSecretString")
		p.known(g, "SecretStringTemplate", "GenerateStringKey", "PasswordLength", "ExcludePunctuation")
		s.Generate = &GenerateSecretString{
			Template:           p.str(g, "SecretStringTemplate"),
			Key:                p.str(g, "GenerateStringKey"),
			Length:             p.integer(g, "PasswordLength", 32),
			ExcludePunctuation: p.boolean(g, "ExcludePunctuation", false),
		}
		if (s.Generate.Template == "") != (s.Generate.Key == "") {
			p.fail(g.at, "SecretStringTemplate and GenerateStringKey must be set together")
		}
	}
	return s
}
