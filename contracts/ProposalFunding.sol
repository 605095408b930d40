// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Funding for artists' proposals, in the chain's native currency.
/// @notice The platform (operator) opens a campaign per proposal; backers fund it until
/// its deadline; the artist withdraws once the goal is met, or backers take their money
/// back after a deadline that was missed. Proposal ids are the platform's UUIDs as uint256.
contract ProposalFunding is ReentrancyGuard {
    struct Campaign {
        address artist;
        uint64 deadline;
        bool withdrawn;
        uint256 goal;
        uint256 raised;
    }

    address public immutable operator;
    mapping(uint256 proposalId => Campaign) public campaigns;
    mapping(uint256 proposalId => mapping(address backer => uint256)) public contributions;

    event CampaignOpened(uint256 indexed proposalId, address indexed artist, uint256 goal, uint64 deadline);
    event Funded(uint256 indexed proposalId, address indexed backer, uint256 amount);
    event Withdrawn(uint256 indexed proposalId, address indexed artist, uint256 amount);
    event Refunded(uint256 indexed proposalId, address indexed backer, uint256 amount);

    error NotOperator();
    error CampaignExists(uint256 proposalId);
    error NoCampaign(uint256 proposalId);
    error InvalidCampaign();
    error FundingClosed(uint256 proposalId);
    error ZeroAmount();
    error LengthMismatch();
    error ValueMismatch(uint256 value, uint256 total);
    error NotArtist();
    error GoalNotMet(uint256 proposalId);
    error AlreadyWithdrawn(uint256 proposalId);
    error RefundUnavailable(uint256 proposalId);
    error TransferFailed();

    constructor(address operator_) {
        operator = operator_;
    }

    function openCampaign(uint256 proposalId, address artist, uint256 goal, uint64 deadline) external {
        if (msg.sender != operator) revert NotOperator();
        if (campaigns[proposalId].artist != address(0)) revert CampaignExists(proposalId);
        if (artist == address(0) || goal == 0 || deadline <= block.timestamp) revert InvalidCampaign();
        campaigns[proposalId] = Campaign({artist: artist, deadline: deadline, withdrawn: false, goal: goal, raised: 0});
        emit CampaignOpened(proposalId, artist, goal, deadline);
    }

    function fund(uint256 proposalId) external payable {
        _fund(proposalId, msg.value);
    }

    /// @notice Back several proposals in one transaction; `msg.value` must equal the sum.
    function fundMany(uint256[] calldata proposalIds, uint256[] calldata amounts) external payable {
        if (proposalIds.length != amounts.length) revert LengthMismatch();
        uint256 total;
        for (uint256 i; i < proposalIds.length; ++i) {
            _fund(proposalIds[i], amounts[i]);
            total += amounts[i];
        }
        if (total != msg.value) revert ValueMismatch(msg.value, total);
    }

    /// @notice The artist takes the funds once the goal is met (before or after the deadline).
    function withdraw(uint256 proposalId) external nonReentrant {
        Campaign storage campaign = _campaign(proposalId);
        if (msg.sender != campaign.artist) revert NotArtist();
        if (campaign.raised < campaign.goal) revert GoalNotMet(proposalId);
        if (campaign.withdrawn) revert AlreadyWithdrawn(proposalId);
        campaign.withdrawn = true;
        uint256 amount = campaign.raised;
        emit Withdrawn(proposalId, msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice After a missed deadline each backer takes back what they gave.
    function refund(uint256 proposalId) external nonReentrant {
        Campaign storage campaign = _campaign(proposalId);
        uint256 amount = contributions[proposalId][msg.sender];
        if (block.timestamp < campaign.deadline || campaign.raised >= campaign.goal || amount == 0) {
            revert RefundUnavailable(proposalId);
        }
        contributions[proposalId][msg.sender] = 0;
        emit Refunded(proposalId, msg.sender, amount);
        _send(msg.sender, amount);
    }

    function _fund(uint256 proposalId, uint256 amount) private {
        Campaign storage campaign = _campaign(proposalId);
        if (block.timestamp >= campaign.deadline || campaign.withdrawn) revert FundingClosed(proposalId);
        if (amount == 0) revert ZeroAmount();
        campaign.raised += amount;
        contributions[proposalId][msg.sender] += amount;
        emit Funded(proposalId, msg.sender, amount);
    }

    function _campaign(uint256 proposalId) private view returns (Campaign storage campaign) {
        campaign = campaigns[proposalId];
        if (campaign.artist == address(0)) revert NoCampaign(proposalId);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
