package connector

import (
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"

	"github.com/baton-runner/baton-runner/abi"
)

// compose returns s with exactly the optional baton-sdk interfaces the
// guest declared for rt: ResourceProvisionerV2 (Provisionable),
// ResourceTargetedSyncerLimited (Gettable), ResourceDeleterV2Limited
// (Deletable) and AccountManagerLimited (CreatesAccounts). baton-sdk
// derives each type's capabilities from the method set of its syncer, so
// a syncer must not have a method it cannot serve; hence one struct per
// combination, each embedding the plain syncer and the parts it offers.
func compose(s *resourceSyncer, rt abi.ResourceType) connectorbuilder.ResourceSyncerV2 {
	p, g, d, a := provisioningSyncer{s}, getter{s}, deleter{s}, accountCreator{s}
	mask := 0
	for bit, on := range []bool{rt.Provisionable, rt.Gettable, rt.Deletable, rt.CreatesAccounts} {
		if on {
			mask |= 1 << bit
		}
	}
	switch mask {
	case 1:
		return p
	case 2:
		return syncerG{s, g}
	case 3:
		return syncerPG{s, p, g}
	case 4:
		return syncerD{s, d}
	case 5:
		return syncerPD{s, p, d}
	case 6:
		return syncerGD{s, g, d}
	case 7:
		return syncerPGD{s, p, g, d}
	case 8:
		return syncerA{s, a}
	case 9:
		return syncerPA{s, p, a}
	case 10:
		return syncerGA{s, g, a}
	case 11:
		return syncerPGA{s, p, g, a}
	case 12:
		return syncerDA{s, d, a}
	case 13:
		return syncerPDA{s, p, d, a}
	case 14:
		return syncerGDA{s, g, d, a}
	case 15:
		return syncerPGDA{s, p, g, d, a}
	}
	return s
}

// The combinations, named by their parts: P provisions, G gets, D
// deletes, A creates accounts.
type syncerG struct {
	connectorbuilder.ResourceSyncerV2
	getter
}

type syncerPG struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	getter
}

type syncerD struct {
	connectorbuilder.ResourceSyncerV2
	deleter
}

type syncerPD struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	deleter
}

type syncerGD struct {
	connectorbuilder.ResourceSyncerV2
	getter
	deleter
}

type syncerPGD struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	getter
	deleter
}

type syncerA struct {
	connectorbuilder.ResourceSyncerV2
	accountCreator
}

type syncerPA struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	accountCreator
}

type syncerGA struct {
	connectorbuilder.ResourceSyncerV2
	getter
	accountCreator
}

type syncerPGA struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	getter
	accountCreator
}

type syncerDA struct {
	connectorbuilder.ResourceSyncerV2
	deleter
	accountCreator
}

type syncerPDA struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	deleter
	accountCreator
}

type syncerGDA struct {
	connectorbuilder.ResourceSyncerV2
	getter
	deleter
	accountCreator
}

type syncerPGDA struct {
	connectorbuilder.ResourceSyncerV2
	provisioningSyncer
	getter
	deleter
	accountCreator
}
