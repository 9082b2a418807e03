package transparency

import (
	"encoding/json"
	"strconv"

	"github.com/livingprofile/livingprofile/shared/catalog"
)

// The vocabularies of the JSON-LD: W3C DPV 2.x, its GDPR extension, its locations and
// Dublin Core terms. docs/transparency.md lists the terms used.
var dpvContext = map[string]string{
	"dpv":     "https://w3id.org/dpv#",
	"eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
	"loc":     "https://w3id.org/dpv/loc#",
	"dct":     "http://purl.org/dc/terms/",
	"rdf":     "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}

// legalBases are the GDPR extension's Art. 6(1) legal bases.
var legalBases = map[catalog.LegalBasis]string{
	catalog.Consent: "eu-gdpr:A6-1-a", catalog.Contract: "eu-gdpr:A6-1-b", catalog.LegalObligation: "eu-gdpr:A6-1-c",
	catalog.VitalInterests: "eu-gdpr:A6-1-d", catalog.PublicTask: "eu-gdpr:A6-1-e", catalog.LegitimateInterests: "eu-gdpr:A6-1-f",
}

// safeguards are the GDPR extension's legal bases of a transfer outside the EEA; a
// derogation names no paragraph of Art. 49, so it is DPV's general class.
var safeguards = map[catalog.Safeguard]string{
	catalog.AdequacyDecision: "eu-gdpr:A45-3", catalog.SCCs: "eu-gdpr:A46-2-c", catalog.BCRs: "eu-gdpr:A47-1",
	catalog.Derogation: "dpv:DataTransferLegalBasis",
}

// recipientTypes are DPV's entity classes of the kinds of recipient.
var recipientTypes = map[catalog.RecipientKind]string{
	catalog.Processor: "dpv:DataProcessor", catalog.ThirdPartyController: "dpv:ThirdParty", catalog.PublicAuthority: "dpv:PublicAuthority",
}

// Rights are the data subject's rights the page explains, as the GDPR extension's terms:
// Art. 7(3), 15 to 18, 20 to 22 and 77.
var Rights = []string{"A7-3", "A15", "A16", "A17", "A18", "A20", "A21", "A22", "A77"}

func id(s string) map[string]string { return map[string]string{"@id": s} }

// DPV renders the statement as JSON-LD in W3C DPV terms: the controller, its DPO and the
// recipients as entities, and one dpv:PersonalDataHandling per purpose with its purpose,
// legal basis, personal data, recipients, data subjects, storage duration, rights and
// transfers. base is the page's URL; node ids are fragments of it.
func DPV(s Statement, base string) ([]byte, error) {
	var graph []any
	controller := map[string]any{"@id": base + "#controller", "@type": "dpv:DataController"}
	if c := s.Controller; c != nil {
		controller["dpv:hasName"] = c.Name
		controller["dpv:hasAddress"] = c.Address
		controller["dpv:hasContact"] = "mailto:" + c.Email
		if r := c.Representative; r != nil {
			controller["dpv:hasRepresentative"] = map[string]any{"@id": base + "#representative", "@type": "dpv:Representative",
				"dpv:hasName": r.Name, "dpv:hasAddress": r.Address, "dpv:hasContact": "mailto:" + r.Email}
		}
	}
	if d := s.DPO; d != nil {
		dpo := map[string]any{"@id": base + "#dpo", "@type": "dpv:DataProtectionOfficer", "dpv:hasName": d.Name,
			"dpv:hasContact": []string{"mailto:" + d.Email}}
		if d.Phone != "" {
			dpo["dpv:hasContact"] = append(dpo["dpv:hasContact"].([]string), "tel:"+d.Phone)
		}
		if d.Address != "" {
			dpo["dpv:hasAddress"] = d.Address
		}
		controller["dpv:hasDataProtectionOfficer"] = dpo
	}
	graph = append(graph, controller)
	seen := map[string]bool{}
	rights := make([]map[string]string, len(Rights))
	for i, r := range Rights {
		rights[i] = id("eu-gdpr:" + r)
	}
	for _, a := range s.Activities {
		purpose := map[string]any{"@id": base + "#purpose-" + a.Purpose, "@type": purposeType(a), "dct:title": a.Name}
		if a.Description != "" {
			purpose["dct:description"] = a.Description
		}
		h := map[string]any{
			"@id": base + "#" + a.Purpose, "@type": "dpv:PersonalDataHandling",
			"dct:title":             a.Name,
			"dpv:hasPurpose":        purpose,
			"dpv:hasLegalBasis":     id(legalBases[a.LegalBasis]),
			"dpv:hasDataController": id(base + "#controller"),
			"dpv:hasDataSubject":    id("dpv:Customer"),
			"dpv:hasRight":          rights,
			"dpv:hasStorageCondition": map[string]any{"@type": "dpv:StorageDuration",
				"dpv:hasDuration": duration(s.Lang, a.RetentionDays)},
		}
		var data []any
		for _, c := range a.Categories {
			t := "dpv:PersonalData"
			if c.Special {
				t = "dpv:SpecialCategoryPersonalData"
			}
			data = append(data, map[string]any{"@id": base + "#data-" + c.ID, "@type": t, "dct:title": c.Name})
		}
		h["dpv:hasPersonalData"] = data
		var recipients []any
		for _, r := range a.Recipients {
			recipients = append(recipients, id(base+"#recipient-"+r.ID))
			if !seen[r.ID] {
				seen[r.ID] = true
				graph = append(graph, map[string]any{"@id": base + "#recipient-" + r.ID, "@type": []string{"dpv:Recipient", recipientTypes[r.Kind]},
					"dpv:hasName": r.Name, "dpv:hasLocation": id("loc:" + r.Country)})
			}
		}
		if len(recipients) > 0 {
			h["dpv:hasRecipient"] = recipients
		}
		var transfers []any
		for _, t := range a.Transfers {
			transfers = append(transfers, map[string]any{"@type": "dpv:PersonalDataHandling",
				"dpv:hasProcessing": id("dpv:Transfer"), "dpv:hasLocation": id("loc:" + t.Country),
				"dpv:hasLegalBasis": id(safeguards[t.Safeguard]), "dct:source": id(t.DocumentURL)})
		}
		if len(transfers) > 0 {
			h["dpv:hasPersonalDataHandling"] = transfers
		}
		graph = append(graph, h)
	}
	return json.MarshalIndent(map[string]any{"@context": dpvContext, "@id": base, "dct:language": s.Lang,
		"dct:modified": s.UpdatedAt, "dct:hasVersion": strconv.Itoa(s.CatalogVersion), "@graph": graph}, "", "  ")
}

// purposeType is DPV's purpose class: direct marketing where the catalog marks it.
func purposeType(a Activity) []string {
	if a.DirectMarketing {
		return []string{"dpv:Purpose", "dpv:DirectMarketing"}
	}
	return []string{"dpv:Purpose"}
}

// duration is a retention as DPV's duration: a fixed number of days (xsd:duration), or
// the relationship, an event DPV can only name in words.
func duration(lang string, days int) map[string]any {
	if days == 0 {
		return map[string]any{"@type": "dpv:UntilEventDuration", "dct:description": Retention(lang, 0)}
	}
	return map[string]any{"@type": "dpv:TemporalDuration", "rdf:value": "P" + strconv.Itoa(days) + "D"}
}
